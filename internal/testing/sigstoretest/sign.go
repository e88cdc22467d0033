package sigstoretest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/go-openapi/strfmt"
)

// SignOption adjusts SignKeyless, AttestKeyless and AttestKey.
type SignOption func(*signConfig)

type signConfig struct {
	rekor          *Log
	integratedTime time.Time
	logIndex       int64
	tamper         func([]byte) []byte
}

// WithTlog attaches an offline Rekor bundle from rekor, integrated at t
// (zero: now), as `cosign sign`/`attest` do after uploading to Rekor.
func WithTlog(rekor *Log, t time.Time) SignOption {
	return func(c *signConfig) { c.rekor, c.integratedTime = rekor, t }
}

// WithTamper changes the signed payload (simple-signing JSON, or the DSSE
// envelope of an attestation) after signing and after the tlog entry is
// made.
func WithTamper(f func([]byte) []byte) SignOption {
	return func(c *signConfig) { c.tamper = f }
}

func options(opts []SignOption) signConfig {
	c := signConfig{logIndex: 1}
	for _, o := range opts {
		o(&c)
	}
	if c.rekor != nil && c.integratedTime.IsZero() {
		c.integratedTime = time.Now()
	}
	return c
}

// SignKeyless signs repo@digest with leaf the way keyless `cosign sign`
// does: a simple-signing payload, the base64 signature, the certificate
// and chain annotations and (WithTlog) a Rekor bundle over a hashedrekord
// entry; it pushes the signature to the .sig tag.
func SignKeyless(tb testing.TB, reg *registrytest.Registry, repo string, digest v1.Hash, leaf *Leaf, opts ...SignOption) {
	tb.Helper()
	c := options(opts)
	dref := reg.DirectDigest(tb, repo, digest)
	pl, err := (&payload.Cosign{Image: dref}).MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := leaf.Signer.SignMessage(bytes.NewReader(pl))
	if err != nil {
		tb.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(sig)
	sopts := []static.Option{static.WithCertChain(leaf.CertPEM, leaf.ChainPEM)}
	if c.rekor != nil {
		body := hashedRekordBody(tb, pl, sig, leaf.CertPEM)
		sopts = append(sopts, static.WithBundle(c.rekor.Bundle(tb, body, c.integratedTime, c.logIndex)))
	}
	if c.tamper != nil {
		pl = c.tamper(pl)
	}
	osig, err := static.NewSignature(pl, b64, sopts...)
	if err != nil {
		tb.Fatal(err)
	}
	reg.AttachSignature(tb, repo, digest, osig)
}

// AttestKeyless attests predicate (JSON-marshalled) of predicateType
// about repo@digest with leaf, as keyless `cosign attest` does: an in-toto
// statement in a DSSE envelope (layer media type
// application/vnd.dsse.envelope.v1+json), the certificate and chain
// annotations, the predicateType annotation, and (WithTlog) a Rekor
// bundle over a dsse entry. It pushes it to the .att tag.
func AttestKeyless(tb testing.TB, reg *registrytest.Registry, repo string, digest v1.Hash, predicateType string, predicate any, leaf *Leaf, opts ...SignOption) {
	tb.Helper()
	attest(tb, reg, repo, digest, predicateType, predicate, leaf.Signer, leaf.CertPEM, leaf.ChainPEM, options(opts))
}

// AttestKey is AttestKeyless with a key pair (`cosign attest --key`): no
// certificate; a tlog entry, if any, names the public key.
func AttestKey(tb testing.TB, reg *registrytest.Registry, repo string, digest v1.Hash, predicateType string, predicate any, key registrytest.Key, opts ...SignOption) {
	tb.Helper()
	attest(tb, reg, repo, digest, predicateType, predicate, key.Signer, key.PublicPEM, nil, options(opts))
}

// statement is an in-toto v0.1 statement, as cosign attest makes.
type statement struct {
	Type          string    `json:"_type"`
	PredicateType string    `json:"predicateType"`
	Subject       []subject `json:"subject"`
	Predicate     any       `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

func attest(tb testing.TB, reg *registrytest.Registry, repo string, digest v1.Hash, predicateType string, predicate any, sv signature.SignerVerifier, verifierPEM, chainPEM []byte, c signConfig) {
	tb.Helper()
	dref := reg.DirectDigest(tb, repo, digest)
	st, err := json.Marshal(statement{
		Type:          "https://in-toto.io/Statement/v0.1",
		PredicateType: predicateType,
		Subject:       []subject{{Name: dref.Context().String(), Digest: map[string]string{"sha256": digest.Hex}}},
		Predicate:     predicate,
	})
	if err != nil {
		tb.Fatal(err)
	}
	env, err := dsse.WrapSigner(sv, types.IntotoPayloadType).SignMessage(bytes.NewReader(st))
	if err != nil {
		tb.Fatal(err)
	}
	sopts := []static.Option{
		static.WithLayerMediaType(types.DssePayloadType),
		static.WithAnnotations(map[string]string{"predicateType": predicateType}),
	}
	if chainPEM != nil {
		sopts = append(sopts, static.WithCertChain(verifierPEM, chainPEM))
	}
	if c.rekor != nil {
		body := dsseBody(tb, env, st, verifierPEM)
		sopts = append(sopts, static.WithBundle(c.rekor.Bundle(tb, body, c.integratedTime, c.logIndex)))
	}
	if c.tamper != nil {
		env = c.tamper(env)
	}
	att, err := static.NewAttestation(env, sopts...)
	if err != nil {
		tb.Fatal(err)
	}
	reg.AttachAttestation(tb, repo, digest, att)
}

func sha256Hex(b []byte) *string {
	h := sha256.Sum256(b)
	s := hex.EncodeToString(h[:])
	return &s
}

func str(s string) *string { return &s }

// hashedRekordBody is the Rekor hashedrekord v0.0.1 entry of a signature
// over payload by the key of certPEM.
func hashedRekordBody(tb testing.TB, payload, sig, certPEM []byte) []byte {
	tb.Helper()
	e := &models.Hashedrekord{
		APIVersion: str("0.0.1"),
		Spec: models.HashedrekordV001Schema{
			Data: &models.HashedrekordV001SchemaData{Hash: &models.HashedrekordV001SchemaDataHash{
				Algorithm: str(models.HashedrekordV001SchemaDataHashAlgorithmSha256),
				Value:     sha256Hex(payload),
			}},
			Signature: &models.HashedrekordV001SchemaSignature{
				Content:   strfmt.Base64(sig),
				PublicKey: &models.HashedrekordV001SchemaSignaturePublicKey{Content: strfmt.Base64(certPEM)},
			},
		},
	}
	b, err := json.Marshal(e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// dsseBody is the Rekor dsse v0.0.1 entry (canonical form) of envelope,
// whose payload is statement, signed by the key of verifierPEM.
func dsseBody(tb testing.TB, envelope, statement, verifierPEM []byte) []byte {
	tb.Helper()
	var env struct {
		Signatures []struct {
			Sig string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil || len(env.Signatures) != 1 {
		tb.Fatalf("DSSE envelope: %v (%d signatures)", err, len(env.Signatures))
	}
	verifier := strfmt.Base64(verifierPEM)
	e := &models.DSSE{
		APIVersion: str("0.0.1"),
		Spec: models.DSSEV001Schema{
			EnvelopeHash: &models.DSSEV001SchemaEnvelopeHash{Algorithm: str(models.DSSEV001SchemaEnvelopeHashAlgorithmSha256), Value: sha256Hex(envelope)},
			PayloadHash:  &models.DSSEV001SchemaPayloadHash{Algorithm: str(models.DSSEV001SchemaPayloadHashAlgorithmSha256), Value: sha256Hex(statement)},
			Signatures:   []*models.DSSEV001SchemaSignaturesItems0{{Signature: &env.Signatures[0].Sig, Verifier: &verifier}},
		},
	}
	b, err := json.Marshal(e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
