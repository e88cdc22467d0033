package ruletests

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsLibrary(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, rel := range []string{
		"library/rules/r/test/c/expected.json",
		"rule/test/c/expected.json",
		"rule/rule.metadata.json",
		"nometadata/test/c/expected.json",
		"kyverno/kyverno-test.yaml",
		"empty/.keep",
	} {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("[]"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for dir, want := range map[string]bool{
		"library":         true,  // a library with rule tests
		"library/rules/r": false, // a rule's directory without its rule.metadata.json
		"rule":            true,  // one rule with tests
		"nometadata":      false, // test cases but no rule beside them
		"kyverno":         false, // a kyverno test suite
		"empty":           false,
		"missing":         false,
	} {
		if got := IsLibrary(filepath.Join(root, dir)); got != want {
			t.Errorf("IsLibrary(%s) = %v, want %v", dir, got, want)
		}
	}
}
