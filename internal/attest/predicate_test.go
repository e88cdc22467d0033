package attest

import (
	"errors"
	"slices"
	"testing"
)

func TestPredicateTypeURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "custom", want: "https://cosign.sigstore.dev/attestation/v1"},
		{in: "slsaprovenance", want: "https://slsa.dev/provenance/v0.2"},
		{in: "slsaprovenance02", want: "https://slsa.dev/provenance/v0.2"},
		{in: "slsaprovenance1", want: "https://slsa.dev/provenance/v1"},
		{in: "spdx", want: "https://spdx.dev/Document"},
		{in: "spdxjson", want: "https://spdx.dev/Document"},
		{in: "cyclonedx", want: "https://cyclonedx.org/bom"},
		{in: "link", want: "https://in-toto.io/Link/v1"},
		{in: "vuln", want: "https://cosign.sigstore.dev/attestation/vuln/v1"},
		{in: "openvex", want: "https://openvex.dev/ns"},
		{in: "https://example.com/attestation/v3", want: "https://example.com/attestation/v3"},
		{in: "https://slsa.dev/provenance/v1", want: "https://slsa.dev/provenance/v1"},
		{in: "SLSAProvenance", bad: true},
		{in: "slsa", bad: true},
		{in: "", bad: true},
		{in: "/relative/path", bad: true},
		{in: "example.com/no-scheme", bad: true},
		{in: "https://exa mple.com/x", bad: true},
	}
	for _, tc := range tests {
		got, err := PredicateTypeURL(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrInvalidPredicateType) {
				t.Errorf("PredicateTypeURL(%q) = %q, %v; want ErrInvalidPredicateType", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("PredicateTypeURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	names := PredicateTypeNames()
	if len(names) != 10 || !slices.IsSorted(names) {
		t.Errorf("PredicateTypeNames() = %v", names)
	}
}

func TestMatchesPredicateType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		yes  []string
		no   []string
	}{
		{"slsa02.json", []string{"slsaprovenance", "slsaprovenance02", "https://slsa.dev/provenance/v0.2"}, []string{"slsaprovenance1", "custom"}},
		{"slsa1.json", []string{"slsaprovenance1"}, []string{"slsaprovenance", "https://slsa.dev/provenance/v0.2"}},
		{"spdx.json", []string{"spdx", "spdxjson"}, []string{"cyclonedx"}},
		{"cyclonedx.json", []string{"cyclonedx"}, []string{"spdx"}},
		{"vuln.json", []string{"vuln"}, []string{"custom", "openvex"}},
	}
	for _, tc := range tests {
		st := decodeFixture(t, tc.file)
		for _, n := range tc.yes {
			if ok, err := st.MatchesPredicateType(n); !ok || err != nil {
				t.Errorf("%s: MatchesPredicateType(%q) = %v, %v; want true", tc.file, n, ok, err)
			}
		}
		for _, n := range tc.no {
			if ok, err := st.MatchesPredicateType(n); ok || err != nil {
				t.Errorf("%s: MatchesPredicateType(%q) = %v, %v; want false", tc.file, n, ok, err)
			}
		}
	}
	st := decodeFixture(t, "vuln.json")
	if _, err := st.MatchesPredicateType("nonsense"); !errors.Is(err, ErrInvalidPredicateType) {
		t.Errorf("MatchesPredicateType(nonsense) error = %v", err)
	}
}
