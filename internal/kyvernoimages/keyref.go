package kyvernoimages

import (
	"context"

	"github.com/portcullis/portcullis/internal/keyref"
)

// SecretKeys returns a KeyLoader that resolves "k8s://namespace/name"
// references (the Secret's cosign.pub) and KMS URIs with package keyref,
// reading Secrets through r.
func SecretKeys(r keyref.SecretReader) KeyLoader {
	return KeyLoaderFunc(func(ctx context.Context, ref string) ([][]byte, error) {
		src, err := keyref.ParseKeyRef(ref)
		if err != nil {
			return nil, err
		}
		keys, err := keyref.Load(ctx, r, src)
		if err != nil {
			return nil, err
		}
		out := make([][]byte, len(keys))
		for i, k := range keys {
			out[i] = k.PEM
		}
		return out, nil
	})
}
