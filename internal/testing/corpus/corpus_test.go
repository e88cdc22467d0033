package corpus

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLocate(t *testing.T) {
	base := t.TempDir()
	repo := mkdir(t, base, "clone")
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := mkdir(t, repo, "internal", "x")

	// Absent: a skip unless required.
	if _, err := locate(start, ""); !errors.Is(err, errAbsent) {
		t.Fatalf("locate without ../shared = %v, want errAbsent", err)
	}
	// ../shared/conformance beside the repository root, found from below it.
	want := mkdir(t, base, "shared", "conformance")
	for _, from := range []string{start, repo} {
		got, err := locate(from, "")
		if err != nil || got != want {
			t.Fatalf("locate(%s) = %q, %v; want %q", from, got, err, want)
		}
	}
	// The override wins, and must hold the corpus.
	other := mkdir(t, base, "elsewhere", "conformance")
	if got, err := locate(start, filepath.Dir(other)); err != nil || got != other {
		t.Fatalf("locate with override = %q, %v; want %q", got, err, other)
	}
	if _, err := locate(start, filepath.Join(base, "nothing")); !errors.Is(err, errAbsent) {
		t.Fatalf("locate with an empty override = %v, want errAbsent", err)
	}
	// No repository above start: an error of its own, never a skip.
	if _, err := locate(base, ""); err == nil || errors.Is(err, errAbsent) {
		t.Fatalf("locate outside a repository = %v, want a repository error", err)
	}
}

// TestDirFindsSharedCorpus checks the real layout: this repository with
// ../shared beside it (skipped without it, failed under PORTCULLIS_CORPUS=1).
func TestDirFindsSharedCorpus(t *testing.T) {
	dir := Kyverno(t)
	if filepath.Base(filepath.Dir(dir)) != "conformance" {
		t.Fatalf("Kyverno = %s, want .../conformance/kyverno-policies", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("corpus %s is empty: %v", dir, err)
	}
}
