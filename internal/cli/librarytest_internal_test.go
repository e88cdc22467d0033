//go:build !offline

package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/kubescape"
)

// isLibraryTestDir is kubescape.IsTestLibrary's check, made in this
// package for the offline build: they must agree.
func TestIsLibraryTestDirAgreesWithKubescape(t *testing.T) {
	root := t.TempDir()
	write := func(rel string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("[]"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("library/rules/r/test/c/expected.json")
	write("rule/test/c/expected.json")
	write("rule/rule.metadata.json")
	write("nometadata/test/c/expected.json")
	write("empty/.keep")
	dirs := []string{"library", "library/rules/r", "rule", "nometadata", "empty", "missing"}
	for i := range dirs {
		dirs[i] = filepath.Join(root, dirs[i])
	}
	dirs = append(dirs, "testdata/suites", "testdata", "../../test/conformance", "../../../shared/conformance/kubescape-regolibrary")
	seen := map[bool]bool{}
	for _, d := range dirs {
		want := kubescape.IsTestLibrary(d)
		seen[want] = true
		if got := isLibraryTestDir(d); got != want {
			t.Errorf("%s: isLibraryTestDir %v, kubescape.IsTestLibrary %v", d, got, want)
		}
	}
	if !seen[true] || !seen[false] {
		t.Errorf("the cases do not cover both answers: %v", seen)
	}
}
