package keyref

import (
	"context"

	"github.com/portcullis/portcullis/internal/keys"
)

// Scope is what a policy may name as a key source. The zero Scope allows
// Secrets in any namespace and no files: right for cluster-scoped policies
// loaded from the cluster.
type Scope struct {
	// Namespace, when set, confines Secret sources to this namespace: a
	// namespaced Kyverno Policy may read keys from its own namespace only
	// (its author may not be able to read Secrets elsewhere, the webhook
	// can).
	Namespace string
	// Files allows file sources. Set it only where the user named the
	// file (scan, verify, test); a policy loaded from the cluster must not
	// make the webhook read its own file system.
	Files bool
}

// Check returns nil when src is allowed in s, else an *Error of kind
// ErrForbidden naming src. KMS sources pass (Load refuses them anyway).
func (s Scope) Check(src Source) error {
	switch {
	case src.File != "" && !s.Files:
		return &Error{Source: src.String(), Kind: ErrForbidden,
			Msg: "policies loaded from the cluster cannot name key files (give the key inline or in a Secret)"}
	case src.Secret != nil && s.Namespace != "" && src.Secret.Namespace != s.Namespace:
		return &Error{Source: src.String(), Kind: ErrForbidden,
			Msg: "a Policy in namespace " + s.Namespace + " can only read key Secrets of its own namespace"}
	}
	return nil
}

// LoadScoped is Load after checking src against s.
func LoadScoped(ctx context.Context, r SecretReader, s Scope, src Source) ([]keys.PublicKey, error) {
	if err := s.Check(src); err != nil {
		return nil, err
	}
	return Load(ctx, r, src)
}
