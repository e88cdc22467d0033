package kubescape

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/testing/corpus"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
)

// imagePod is a Pod running image.
func imagePod(name, image string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "ns"},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": image}}},
	}
}

// TestCosignBuiltinsAgainstRegistry runs the shared library's image
// signature controls (C-0236 verify-image-signature: signed by a trusted
// key; C-0237 has-image-signature: signed at all) with the cosign
// builtins answered by a real registry: a signed image passes both, an
// unsigned one fails both, an image signed by another key fails C-0236
// only, and an unreachable registry skips both rules with the reason.
func TestCosignBuiltinsAgainstRegistry(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	dir := corpus.Kubescape(t)
	key, other := registrytest.NewKey(t), registrytest.NewKey(t)
	signed := reg.PushRandom(t, "app", "signed")
	reg.Sign(t, "app", signed, key, nil)
	byOther := reg.PushRandom(t, "app", "other-key")
	reg.Sign(t, "app", byOther, other, nil)
	reg.PushRandom(t, "app", "unsigned")

	// Kubescape's configuration writes keys with "\n" escapes.
	cfg, err := json.Marshal(map[string]any{"settings": map[string]any{"postureControlInputs": map[string]any{
		"trustedCosignPublicKeys": []string{strings.ReplaceAll(string(key.PublicPEM), "\n", `\n`)}}}})
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgFile, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	verifier := imageverify.New(imageverify.Options{FetchTimeout: 5 * time.Second})
	l, err := Load(dir, WithControlConfig(cfgFile), WithImageSignatures(RegistrySignatures{Verifier: verifier}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	controls := []string{"C-0236", "C-0237"}
	fs, err := l.Scan(ctx, []map[string]any{
		imagePod("signed", reg.Ref("app", "signed")),
		imagePod("by-other", reg.Ref("app", "other-key")),
		imagePod("unsigned", reg.Ref("app", "unsigned")),
		imagePod("by-digest", reg.Ref("app", signed.String())),
	}, ScanOptions{Controls: controls})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]engine.Status{}
	for _, f := range fs {
		got[f.Control+" "+f.Resource.Name] = f.Status
	}
	want := map[string]engine.Status{
		"C-0236 signed": engine.StatusPass, "C-0237 signed": engine.StatusPass,
		"C-0236 by-digest": engine.StatusPass, "C-0237 by-digest": engine.StatusPass,
		"C-0236 by-other": engine.StatusFail, "C-0237 by-other": engine.StatusPass,
		"C-0236 unsigned": engine.StatusFail, "C-0237 unsigned": engine.StatusFail,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("results %v, want %v", got, want)
	}

	// A registry nobody answers on: no verdict, so no pass and no fail.
	gone := registrytest.FreeAddr(t) + "/app:1"
	fs, err = l.Scan(ctx, []map[string]any{imagePod("gone", gone)}, ScanOptions{Controls: controls})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 {
		t.Fatalf("findings %+v, want one skip per control", fs)
	}
	for _, f := range fs {
		if f.Status != engine.StatusSkip || !strings.Contains(f.Message, "registry error") || !strings.Contains(f.Message, gone) {
			t.Errorf("%s on %s: %s %q, want a skip naming the registry error and the image", f.Control, f.Resource.Name, f.Status, f.Message)
		}
	}
}

// TestRegistrySignaturesBadReference checks that an image reference that
// does not parse is an answer (false, as Kubescape's builtins give), not
// a reason to skip the rule.
func TestRegistrySignaturesBadReference(t *testing.T) {
	t.Parallel()
	s := RegistrySignatures{Verifier: imageverify.New(imageverify.Options{})}
	ctx := context.Background()
	if ok, err := s.HasSignature(ctx, "Not A Reference"); ok || err != nil {
		t.Errorf("HasSignature: %v, %v; want false, nil", ok, err)
	}
	if ok, err := s.VerifyKey(ctx, "UPPER/case:1", []byte("not a key")); ok || err != nil {
		t.Errorf("VerifyKey: %v, %v; want false, nil", ok, err)
	}
}
