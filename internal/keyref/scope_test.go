package keyref

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestScope: a namespaced policy reads key Secrets of its own namespace
// only, and files are read only when the scope allows them; a refused
// source is never read.
func TestScope(t *testing.T) {
	ec := newKey(t, "ecdsa")
	path := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(path, ec.pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	var reads []string
	r := SecretReaderFunc(func(_ context.Context, ns, name string) (*corev1.Secret, error) {
		reads = append(reads, ns+"/"+name)
		return secret(ns, name, map[string][]byte{CosignPubEntry: ec.pubPEM}), nil
	})
	ctx := context.Background()
	team := Scope{Namespace: "team-a"}

	keys, err := LoadScoped(ctx, r, team, KyvernoSecret("team-a", "cosign"))
	if err != nil || len(keys) != 1 {
		t.Fatalf("own namespace: %d %v", len(keys), err)
	}
	_, err = LoadScoped(ctx, r, team, KyvernoSecret("kube-system", "cosign"))
	wantErr(t, err, ErrForbidden, "secret kube-system/cosign entry cosign.pub", "namespace team-a", "own namespace")
	src, err := ParseKeyRef("k8s://kube-system/cosign")
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadScoped(ctx, r, team, src)
	wantErr(t, err, ErrForbidden, "secret kube-system/cosign entry cosign.pub")
	if len(reads) != 1 || reads[0] != "team-a/cosign" {
		t.Fatalf("secrets read: %v, want only team-a/cosign", reads)
	}
	// A cluster-scoped policy (no namespace) may name any namespace.
	if _, err := LoadScoped(ctx, r, Scope{}, KyvernoSecret("kube-system", "cosign")); err != nil {
		t.Fatalf("cluster scope: %v", err)
	}

	// Files: refused unless allowed, whatever the namespace.
	fileSrc, err := ParseKeyRef(path)
	if err != nil || fileSrc.File != path {
		t.Fatalf("ParseKeyRef(path) = %+v, %v", fileSrc, err)
	}
	for _, s := range []Scope{{}, team} {
		_, err = LoadScoped(ctx, nil, s, fileSrc)
		wantErr(t, err, ErrForbidden, "file "+path, "cannot name key files")
	}
	keys, err = LoadScoped(ctx, nil, Scope{Files: true}, fileSrc)
	if err != nil || len(keys) != 1 {
		t.Fatalf("files allowed: %d %v", len(keys), err)
	}
	// Inline keys pass every scope.
	if _, err := LoadScoped(ctx, nil, team, Source{Data: string(ec.pubPEM)}); err != nil {
		t.Fatalf("inline: %v", err)
	}
}
