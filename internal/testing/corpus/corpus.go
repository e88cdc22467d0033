package corpus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

const (
	// SharedEnv names the shared directory, overriding ../shared beside
	// the repository root. When set it must exist.
	SharedEnv = "PORTCULLIS_SHARED"
	// RequireEnv set to 1 turns a missing corpus into a test failure.
	RequireEnv = "PORTCULLIS_CORPUS"
)

// Required reports whether PORTCULLIS_CORPUS=1 asks corpus tests to fail
// rather than skip when the corpus is absent.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Dir returns the conformance corpus directory (<shared>/conformance).
// When it is absent it skips tb, or fails it if Required() or if
// PORTCULLIS_SHARED names a directory that does not hold it.
func Dir(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatalf("corpus: working directory: %v", err)
	}
	dir, err := locate(wd, os.Getenv(SharedEnv))
	if err != nil {
		switch {
		case Required():
			tb.Fatalf("%s=1 requires the conformance corpus: %v", RequireEnv, err)
		case os.Getenv(SharedEnv) != "":
			tb.Fatalf("%s=%s: %v", SharedEnv, os.Getenv(SharedEnv), err)
		case !errors.Is(err, errAbsent):
			tb.Fatal(err)
		}
		tb.Skipf("%v (%s=1 makes this fatal; %s names another shared directory)", err, RequireEnv, SharedEnv)
	}
	return dir
}

// Kyverno returns the Kyverno policy-library corpus directory
// (<shared>/conformance/kyverno-policies), failing tb when the corpus is
// there without it. Absence of the corpus is handled as in Dir.
func Kyverno(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(Dir(tb), "kyverno-policies")
	if _, err := os.Stat(dir); err != nil {
		tb.Fatalf("conformance corpus without kyverno-policies: %v", err)
	}
	return dir
}

// errAbsent marks a corpus that is not there (as opposed to a repository
// that cannot be found).
var errAbsent = errors.New("conformance corpus not found")

// locate finds <shared>/conformance: shared when set, else ../shared
// beside the repository root (the nearest directory above start, start
// included, that holds go.mod).
func locate(start, shared string) (string, error) {
	if shared == "" {
		root, err := repoRoot(start)
		if err != nil {
			return "", err
		}
		shared = filepath.Join(filepath.Dir(root), "shared")
	}
	dir, err := filepath.Abs(filepath.Join(shared, "conformance"))
	if err != nil {
		return "", fmt.Errorf("corpus directory: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("%w at %s: %w", errAbsent, dir, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("%w: %s is not a directory", errAbsent, dir)
	}
	return dir, nil
}

// repoRoot walks up from start to the directory that holds go.mod.
func repoRoot(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repository root: no go.mod above %s", start)
		}
		dir = parent
	}
}

// Kubescape returns the Kubescape control-library corpus directory
// (<shared>/conformance/kubescape-regolibrary), failing tb when the corpus
// is there without it. Absence of the corpus is handled as in Dir.
func Kubescape(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(Dir(tb), "kubescape-regolibrary")
	if _, err := os.Stat(dir); err != nil {
		tb.Fatalf("conformance corpus without kubescape-regolibrary: %v", err)
	}
	return dir
}
