package cli

import (
	"os"
	"path/filepath"
)

// isLibraryTest reports whether every DIR is a Kubescape control library
// (or rule) with rule tests: rules/<rule>/test/<case>/expected.json, or
// test/<case>/expected.json beside rule.metadata.json in a rule
// directory. It is kubescape.IsTestLibrary's check (a test keeps them
// equal), made here so that the offline build, which has no
// internal/kubescape (OPA), still recognises such a directory and says
// it cannot run it instead of looking for kyverno-test.yaml files in it.
func isLibraryTest(dirs []string) bool {
	for _, d := range dirs {
		if !isLibraryTestDir(d) {
			return false
		}
	}
	return len(dirs) > 0
}

func isLibraryTestDir(dir string) bool {
	if m, _ := filepath.Glob(filepath.Join(dir, "rules", "*", "test", "*", "expected.json")); len(m) > 0 {
		return true
	}
	m, _ := filepath.Glob(filepath.Join(dir, "test", "*", "expected.json"))
	if len(m) == 0 {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "rule.metadata.json"))
	return err == nil
}
