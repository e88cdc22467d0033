package attest

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/portcullis/portcullis/internal/testing/registrytest"
)

// TestRegistryAttestations attests an image pushed to a real registry the
// way `cosign attest --key` does (DSSE envelope signed with ECDSA P-256),
// verifies it with cosign's VerifyImageAttestations, and decodes and
// evaluates what cosign returns.
func TestRegistryAttestations(t *testing.T) {
	reg := registrytest.Start(t)
	key := registrytest.NewKey(t)
	digest := reg.PushRandom(t, "attest/app", "v1")
	other := reg.PushRandom(t, "attest/app", "v2")

	// Statements about this image: SLSA v1 provenance and a vuln report.
	for _, file := range []string{"slsa1.json", "vuln.json"} {
		attest(t, reg, key, "attest/app", digest, readFixture(t, file), digest.Hex)
	}

	verifier, err := signature.LoadVerifier(key.Private.Public(), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	co := &cosign.CheckOpts{
		SigVerifier:        verifier,
		ClaimVerifier:      cosign.IntotoSubjectClaimVerifier,
		IgnoreTlog:         true,
		IgnoreSCT:          true,
		Offline:            true,
		RegistryClientOpts: []ociremote.Option{ociremote.WithRemoteOptions(append(reg.RemoteOptions(), remote.WithContext(t.Context()))...)},
	}
	checked, _, err := cosign.VerifyImageAttestations(t.Context(), reg.DirectDigest(t, "attest/app", digest), co)
	if err != nil {
		t.Fatalf("cosign verification: %v", err)
	}
	if len(checked) != 2 {
		t.Fatalf("cosign verified %d attestations, want 2", len(checked))
	}

	provenance := compile(t, KindRego, `package sigstore
isCompliant {
  input.predicate.runDetails.builder.id == "https://github.com/actions/runner/github-hosted"
}`)
	noHigh := compile(t, KindCEL, `predicate.scanner.result.Results.all(r, r.Vulnerabilities.all(v, v.Severity != "HIGH"))`)
	seen := map[string]bool{}
	for _, sig := range checked {
		payload, err := sig.Payload()
		if err != nil {
			t.Fatal(err)
		}
		st, err := DecodeEnvelope(payload)
		if err != nil {
			t.Fatalf("decode a verified attestation: %v", err)
		}
		if !st.HasSubjectDigest(digest.String()) || st.HasSubjectDigest(other.String()) {
			t.Errorf("%s: subjects %+v, want exactly %s", st.PredicateType, st.Subjects, digest)
		}
		isSLSA, err1 := st.MatchesPredicateType("slsaprovenance1")
		isVuln, err2 := st.MatchesPredicateType("vuln")
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		var p Policy
		switch {
		case isSLSA:
			p = provenance
		case isVuln:
			p = noHigh
		default:
			t.Fatalf("unexpected predicate type %q", st.PredicateType)
		}
		seen[st.PredicateType] = true
		v, err := p.Evaluate(t.Context(), st)
		if err != nil || !v.Passed {
			t.Errorf("%s: verdict %+v, err %v", st.PredicateType, v, err)
		}
	}
	if !seen[PredicateSLSA1] || !seen[PredicateVuln] {
		t.Errorf("saw predicate types %v", seen)
	}

	// A statement about v1 attached to v2: cosign without a claim
	// verifier accepts the signature; HasSubjectDigest must not.
	attest(t, reg, key, "attest/app", other, readFixture(t, "slsa02.json"), digest.Hex)
	co.ClaimVerifier = nil
	checked, _, err = cosign.VerifyImageAttestations(t.Context(), reg.DirectDigest(t, "attest/app", other), co)
	if err != nil || len(checked) != 1 {
		t.Fatalf("cosign verification of v2: %d attestations, %v", len(checked), err)
	}
	payload, err := checked[0].Payload()
	if err != nil {
		t.Fatal(err)
	}
	st, err := DecodeEnvelope(payload)
	if err != nil {
		t.Fatal(err)
	}
	if st.HasSubjectDigest(other.String()) || !st.HasSubjectDigest(digest.String()) {
		t.Errorf("statement about %s matches %s", digest, other)
	}
}

// attest signs statement (its fixture digest replaced by hex) as a DSSE
// envelope, as `cosign attest --key` does, and attaches it to repo@digest.
func attest(t *testing.T, reg *registrytest.Registry, key registrytest.Key, repo string, digest v1.Hash, statement []byte, hex string) {
	t.Helper()
	raw := bytes.ReplaceAll(statement, []byte(strings.TrimPrefix(fixtureDigest, "sha256:")), []byte(hex))
	env, err := dsse.WrapSigner(key.Signer, types.IntotoPayloadType).SignMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	att, err := static.NewAttestation(env,
		static.WithLayerMediaType(types.DssePayloadType),
		static.WithAnnotations(map[string]string{"predicateType": st.PredicateType}))
	if err != nil {
		t.Fatal(err)
	}
	reg.AttachAttestation(t, repo, digest, att)
}
