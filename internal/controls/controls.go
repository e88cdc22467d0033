package controls

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// The "all:" prefix keeps the dot-directories holding the test suites, so
// the suites ship with the binary and can be run from FS.
//
//go:embed all:policies
var embedded embed.FS

// policyRoot is the directory of the embedded tree that FS exposes.
const policyRoot = "policies"

// Names of the built-in sets.
const (
	// SetPSSBaseline is the Pod Security Standards baseline profile.
	SetPSSBaseline = "pss-baseline"
	// SetPSSRestricted holds the controls the restricted profile adds on top
	// of the baseline profile.
	SetPSSRestricted = "pss-restricted"
	// SetRunbook holds operational best practices.
	SetRunbook = "runbook"
	// SetHardening holds the RBAC, service account, secret and namespace
	// controls of the NSA/CISA Kubernetes Hardening Guide and the CIS
	// Kubernetes Benchmark's section 5 (PC-0001 ...).
	SetHardening = "hardening"
)

// knownSets lists the sets in the order Sets reports them.
var knownSets = [...]string{SetPSSBaseline, SetPSSRestricted, SetRunbook, SetHardening}

// DefaultSets are the sets `portcullis scan` applies when it is given no
// --set, --framework or --control: the Pod Security Standards and the
// runbook. The hardening set runs when named or selected through a
// framework ("nsa", "cis") or its control IDs.
func DefaultSets() []string {
	return []string{SetPSSBaseline, SetPSSRestricted, SetRunbook}
}

// ErrUnknownSet is returned (wrapped) by Files when asked for a set that
// does not exist.
var ErrUnknownSet = errors.New("unknown control set")

// File is one policy file of the built-in library.
type File struct {
	// Path is the slash-separated path of the file inside FS, for example
	// "pss-baseline/disallow-host-path/disallow-host-path.yaml".
	Path string
	// Data is the raw YAML content. Each call to Files returns fresh
	// slices, so callers may modify them.
	Data []byte
}

// FS returns the embedded policy tree (read-only). Its top-level
// directories are the sets returned by Sets; it also contains the
// `kyverno test` suites, under directories named ".kyverno-test".
func FS() fs.FS {
	sub, err := fs.Sub(embedded, policyRoot)
	if err != nil {
		// fs.Sub only fails for an invalid directory name, and policyRoot
		// is a valid constant.
		panic(fmt.Sprintf("controls: embedded policy tree: %v", err))
	}
	return sub
}

// Sets lists the named built-in sets: "pss-baseline", "pss-restricted",
// "runbook", "hardening". The returned slice is a fresh copy.
func Sets() []string {
	return append([]string(nil), knownSets[:]...)
}

// Files returns the YAML file contents (files ending in .yaml or .yml) of
// the named sets, or of all sets when none is named, sorted by path.
// Anything under a directory whose name starts with "." (the test suites)
// is excluded. A set named more than once is returned once. Naming a set
// that Sets does not list returns an error wrapping ErrUnknownSet and no
// files.
func Files(sets ...string) ([]File, error) {
	if len(sets) == 0 {
		sets = knownSets[:]
	}
	wanted := make(map[string]bool, len(sets))
	for _, s := range sets {
		if !isKnownSet(s) {
			return nil, fmt.Errorf("controls: %w %q (known sets: %s)", ErrUnknownSet, s, strings.Join(knownSets[:], ", "))
		}
		wanted[s] = true
	}
	root := FS()
	var files []File
	for _, set := range knownSets {
		if !wanted[set] {
			continue
		}
		err := fs.WalkDir(root, set, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != set && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
				return nil
			}
			if !isPolicyFile(d.Name()) {
				return nil
			}
			data, err := fs.ReadFile(root, p)
			if err != nil {
				return fmt.Errorf("read %s: %w", p, err)
			}
			files = append(files, File{Path: p, Data: data})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("controls: walk set %q: %w", set, err)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// isKnownSet reports whether name is one of the built-in sets.
func isKnownSet(name string) bool {
	for _, s := range knownSets {
		if s == name {
			return true
		}
	}
	return false
}

// isPolicyFile reports whether a file name looks like a YAML document that
// is not hidden.
func isPolicyFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch path.Ext(name) {
	case ".yaml", ".yml":
		return true
	}
	return false
}
