package attest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Predicate type URLs of the short names cosign and sigstore
// policy-controller accept (cosign's cmd/cosign/cli/options/predicate.go).
const (
	PredicateCustom    = "https://cosign.sigstore.dev/attestation/v1"
	PredicateSLSA02    = "https://slsa.dev/provenance/v0.2"
	PredicateSLSA1     = "https://slsa.dev/provenance/v1"
	PredicateSPDX      = "https://spdx.dev/Document"
	PredicateCycloneDX = "https://cyclonedx.org/bom"
	PredicateLink      = "https://in-toto.io/Link/v1"
	PredicateVuln      = "https://cosign.sigstore.dev/attestation/vuln/v1"
	PredicateOpenVEX   = "https://openvex.dev/ns"
)

// predicateTypes maps short names to URLs. It is never written.
var predicateTypes = map[string]string{
	"custom":           PredicateCustom,
	"slsaprovenance":   PredicateSLSA02,
	"slsaprovenance02": PredicateSLSA02,
	"slsaprovenance1":  PredicateSLSA1,
	"spdx":             PredicateSPDX,
	"spdxjson":         PredicateSPDX,
	"cyclonedx":        PredicateCycloneDX,
	"link":             PredicateLink,
	"vuln":             PredicateVuln,
	"openvex":          PredicateOpenVEX,
}

// PredicateTypeNames returns the short predicate type names, sorted.
func PredicateTypeNames() []string {
	names := make([]string, 0, len(predicateTypes))
	for n := range predicateTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// PredicateTypeURL returns the predicate type URL for a short name such as
// "slsaprovenance1" or "vuln" (see PredicateTypeNames), or nameOrURL itself
// when it is an absolute URL with a scheme (cosign also accepts a bare
// "/path", which is refused here). Short names are case-sensitive, as in
// cosign. Anything else wraps ErrInvalidPredicateType.
func PredicateTypeURL(nameOrURL string) (string, error) {
	if u, ok := predicateTypes[nameOrURL]; ok {
		return u, nil
	}
	u, err := url.ParseRequestURI(nameOrURL)
	if err != nil || u.Scheme == "" || strings.ContainsAny(nameOrURL, " \t\r\n") {
		return "", fmt.Errorf("attest: %w %q: want one of %s, or an absolute URL", ErrInvalidPredicateType, nameOrURL, strings.Join(PredicateTypeNames(), ", "))
	}
	return nameOrURL, nil
}
