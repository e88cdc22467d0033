package registrytest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Key is an ECDSA P-256 signing key, as `cosign generate-key-pair` makes
// (NewKey), or an RSA one (NewRSAKey).
type Key struct {
	Signer    signature.SignerVerifier
	Private   *ecdsa.PrivateKey // nil for an RSA key
	PublicPEM []byte            // PEM "PUBLIC KEY" ("RSA PUBLIC KEY" from NewRSAKey)
}

// NewKey generates a Key.
func NewKey(tb testing.TB) Key {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(&priv.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return Key{Signer: sv, Private: priv, PublicPEM: pubPEM}
}

// NewRSAKey generates a 2048-bit RSA Key (PKCS#1 v1.5 signatures) whose
// public key is a PKCS#1 "RSA PUBLIC KEY" PEM block, the other public key
// encoding cosign reads.
func NewRSAKey(tb testing.TB) Key {
	tb.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	sv, err := signature.LoadRSAPKCS1v15SignerVerifier(priv, crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&priv.PublicKey)})
	return Key{Signer: sv, PublicPEM: pubPEM}
}

// ociOptions are cosign's registry options for direct setup requests.
func (r *Registry) ociOptions() []ociremote.Option {
	return []ociremote.Option{ociremote.WithRemoteOptions(r.RemoteOptions()...)}
}

// Sign signs repo@digest the way `cosign sign --key` does (simple-signing
// payload, base64 signature annotation on a layer of the .sig tag
// manifest, no transparency log) and pushes the signature. tamper, if set,
// changes the payload after signing.
func (r *Registry) Sign(tb testing.TB, repo string, digest v1.Hash, key Key, tamper func([]byte) []byte) {
	tb.Helper()
	dref := r.DirectDigest(tb, repo, digest)
	pl, err := (&payload.Cosign{Image: dref}).MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := key.Signer.SignMessage(bytes.NewReader(pl))
	if err != nil {
		tb.Fatal(err)
	}
	if tamper != nil {
		pl = tamper(pl)
	}
	osig, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(sig))
	if err != nil {
		tb.Fatal(err)
	}
	r.AttachSignature(tb, repo, digest, osig)
}

// AttachSignature adds a prepared cosign signature layer (see
// cosign's oci/static package) to the .sig manifest of repo@digest.
func (r *Registry) AttachSignature(tb testing.TB, repo string, digest v1.Hash, osig oci.Signature) {
	tb.Helper()
	dref := r.DirectDigest(tb, repo, digest)
	se, err := ociremote.SignedEntity(dref, r.ociOptions()...)
	if err != nil {
		tb.Fatal(err)
	}
	signed, err := mutate.AttachSignatureToEntity(se, osig)
	if err != nil {
		tb.Fatal(err)
	}
	if err := ociremote.WriteSignatures(dref.Context(), signed, r.ociOptions()...); err != nil {
		tb.Fatal(err)
	}
}

// AttachAttestation adds a prepared attestation layer (a DSSE envelope,
// see static.NewAttestation) to the .att manifest of repo@digest.
func (r *Registry) AttachAttestation(tb testing.TB, repo string, digest v1.Hash, att oci.Signature) {
	tb.Helper()
	dref := r.DirectDigest(tb, repo, digest)
	se, err := ociremote.SignedEntity(dref, r.ociOptions()...)
	if err != nil {
		tb.Fatal(err)
	}
	signed, err := mutate.AttachAttestationToEntity(se, att)
	if err != nil {
		tb.Fatal(err)
	}
	if err := ociremote.WriteAttestations(dref.Context(), signed, r.ociOptions()...); err != nil {
		tb.Fatal(err)
	}
}

// CopySignatures tags the signature manifest of repo@from as the
// signature manifest of repo@to (a signature made for another digest).
func (r *Registry) CopySignatures(tb testing.TB, repo string, from, to v1.Hash) {
	tb.Helper()
	fromTag, err := ociremote.SignatureTag(r.DirectDigest(tb, repo, from))
	if err != nil {
		tb.Fatal(err)
	}
	toTag, err := ociremote.SignatureTag(r.DirectDigest(tb, repo, to))
	if err != nil {
		tb.Fatal(err)
	}
	desc, err := remote.Get(fromTag, r.RemoteOptions()...)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Tag(toTag, desc, r.RemoteOptions()...); err != nil {
		tb.Fatal(err)
	}
}
