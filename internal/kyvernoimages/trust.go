package kyvernoimages

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/trustroot"
)

// OfflineTrust returns the CertificateTrustFunc for keyless attestors
// verified without network access: the attestor's roots (PEM) are the
// trusted CAs, rekor.pubkey and ctlog.pubkey the trusted logs,
// rekor.ignoreTlog and ctlog.ignoreSCT relax the checks. An attestor
// without roots would need the public sigstore trust root (TUF), which is
// not reachable offline: it fails with that reason. The trust built for
// each distinct attestor is kept (bounded).
func OfflineTrust() CertificateTrustFunc {
	var mu sync.Mutex
	built := map[[32]byte]imageverify.CertificateTrust{}
	return func(ctx context.Context, a *kyvernov1.Attestor) (imageverify.CertificateTrust, error) {
		if a.Keyless == nil {
			return nil, errors.New("certificates attestors are not supported yet: use keys (the certificate's public key) or keyless")
		}
		key, err := json.Marshal(a.Keyless)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(key)
		mu.Lock()
		defer mu.Unlock()
		if t, ok := built[sum]; ok {
			return t, nil
		}
		t, err := keylessTrust(ctx, a.Keyless)
		if err != nil {
			return nil, err
		}
		if len(built) > 1000 {
			clear(built)
		}
		built[sum] = t
		return t, nil
	}
}

func keylessTrust(ctx context.Context, k *kyvernov1.KeylessAttestor) (imageverify.CertificateTrust, error) {
	if k.Roots == "" {
		return nil, errors.New("keyless without roots needs the public sigstore trust root, which is not reachable offline: set keyless.roots")
	}
	if len(k.AdditionalExtensions) > 0 {
		return nil, errors.New("keyless.additionalExtensions is not supported yet")
	}
	src := trustroot.Sources{CABundle: []byte(k.Roots)}
	pol := trustroot.Policy{}
	if k.Rekor != nil {
		if k.Rekor.PubKey != "" {
			src.RekorKeys = [][]byte{[]byte(k.Rekor.PubKey)}
		}
		if k.Rekor.IgnoreTlog {
			pol.Tlog = trustroot.TlogIgnore
		}
	}
	if k.CTLog != nil {
		if k.CTLog.PubKey != "" {
			src.CTLogKeys = [][]byte{[]byte(k.CTLog.PubKey)}
		}
		pol.InsecureIgnoreSCT = k.CTLog.IgnoreSCT
	}
	// Kyverno lets either of issuer and subject be omitted: then any value
	// is accepted for it.
	id := trustroot.Identity{Issuer: k.Issuer, IssuerRegExp: k.IssuerRegExp, Subject: k.Subject, SubjectRegExp: k.SubjectRegExp}
	if id.Issuer == "" && id.IssuerRegExp == "" {
		id.IssuerRegExp = ".*"
	}
	if id.Subject == "" && id.SubjectRegExp == "" {
		id.SubjectRegExp = ".*"
	}
	pol.Identities = []trustroot.Identity{id}
	m, err := trustroot.Load(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("keyless trust: %w", err)
	}
	kl, err := trustroot.New(m, pol)
	if err != nil {
		return nil, fmt.Errorf("keyless trust: %w", err)
	}
	return imageverify.Keyless(kl), nil
}
