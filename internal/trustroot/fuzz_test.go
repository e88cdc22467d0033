package trustroot_test

import (
	"context"
	"errors"
	"testing"

	"github.com/portcullis/portcullis/internal/trustroot"
)

// FuzzLoad feeds arbitrary CA bundles, trusted_root.json documents and log
// keys to Load: it must not panic, and every refusal must be an
// *trustroot.InputError naming the input, never a bare error.
//
//	go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime 5m ./internal/trustroot/
func FuzzLoad(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), []byte(nil), []byte(nil))
	f.Add([]byte(nil), []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[{"subject":{},"certChain":{"certificates":[{"rawBytes":"AAAA"}]},"validFor":{"start":"2020-01-01T00:00:00Z"}}]}`), []byte(nil))
	f.Add([]byte(nil), []byte(`{"mediaType":"x","ctlogs":[{"publicKey":{"rawBytes":"","keyDetails":"PKIX_ECDSA_P256_SHA_256"}}]}`), []byte("-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("garbage"), []byte("{"), []byte("-----BEGIN PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, ca, root, key []byte) {
		s := trustroot.Sources{CABundle: ca, TrustedRoot: root}
		if len(key) > 0 {
			s.RekorKeys = [][]byte{key}
			s.CTLogKeys = [][]byte{key}
		}
		if len(ca) == 0 && len(root) == 0 {
			return // nothing to trust: Load would read no file either
		}
		m, err := trustroot.Load(context.Background(), s)
		if err != nil {
			if _, ok := errors.AsType[*trustroot.InputError](err); !ok {
				t.Fatalf("Load refused with %T, want *trustroot.InputError: %v", err, err)
			}
			return
		}
		if m == nil || m.TrustedMaterial() == nil {
			t.Fatal("Load returned no material and no error")
		}
		_ = m.Fingerprint()
	})
}
