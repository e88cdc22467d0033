package ruletests

import (
	"os"
	"path/filepath"
)

// Files of a rule test case (rules/<rule>/test/<case>/).
const (
	InputDir       = "input"
	Data           = "data.json"
	Expected       = "expected.json"
	ExpectedFilter = "expected-filter.json"
)

// IsLibrary reports whether dir is a control library with rule tests
// (dir/rules/<rule>/test/<case>/expected.json), or one rule directory
// with tests (dir/test/<case>/expected.json beside dir/rule.metadata.json).
func IsLibrary(dir string) bool {
	if m, _ := filepath.Glob(filepath.Join(dir, "rules", "*", "test", "*", Expected)); len(m) > 0 {
		return true
	}
	m, _ := filepath.Glob(filepath.Join(dir, "test", "*", Expected))
	if len(m) == 0 {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "rule.metadata.json"))
	return err == nil
}
