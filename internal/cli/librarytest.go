package cli

import "github.com/portcullis/portcullis/internal/ruletests"

// isLibraryTest reports whether every DIR is a Kubescape control library
// (or rule) with rule tests (ruletests.IsLibrary): the offline build,
// which has no internal/kubescape (OPA), still recognises such a
// directory and says it cannot run it instead of looking for
// kyverno-test.yaml files in it.
func isLibraryTest(dirs []string) bool {
	for _, d := range dirs {
		if !ruletests.IsLibrary(d) {
			return false
		}
	}
	return len(dirs) > 0
}
