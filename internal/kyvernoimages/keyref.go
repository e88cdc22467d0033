package kyvernoimages

import (
	"context"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/keyref"
	"github.com/portcullis/portcullis/internal/policy"
)

// SecretKeys returns a KeyLoader that resolves "k8s://namespace/name"
// references (the Secret's cosign.pub) and KMS URIs with package keyref,
// reading Secrets through r. It serves policies loaded from the cluster, so
// a reference that keyref would read as a file (any other string) is
// refused with keyref.ErrForbidden: a policy author must not make the
// webhook read its file system.
func SecretKeys(r keyref.SecretReader) KeyLoader {
	return KeyLoaderFunc(func(ctx context.Context, ref string) ([][]byte, error) {
		src, err := keyref.ParseKeyRef(ref)
		if err != nil {
			return nil, err
		}
		keys, err := keyref.LoadScoped(ctx, r, keyref.Scope{}, src)
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

// keyRef is the reference a keys attestor names (after substitution), and
// an error when the rule's policy may not name it: a namespaced Policy is
// confined to Secrets of its own namespace, whether named by keys.secret or
// by a k8s:// kms reference.
func keyRef(rule *policy.Rule, k *kyvernov1.StaticKeyAttestor) (string, error) {
	ref := k.KMS
	if k.Secret != nil {
		ref = "k8s://" + k.Secret.Namespace + "/" + k.Secret.Name
	}
	if rule == nil || rule.Policy == nil || !rule.Policy.Spec.IsNamespaced() {
		return ref, nil
	}
	src, err := keyref.ParseKeyRef(ref)
	if err != nil {
		return ref, err
	}
	// Files are the loader's business (SecretKeys refuses them).
	return ref, keyref.Scope{Namespace: rule.Policy.Namespace(), Files: true}.Check(src)
}
