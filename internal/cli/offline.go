//go:build offline

package cli

import (
	"context"
	"fmt"

	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/source/files"
	"github.com/spf13/cobra"
)

// Offline reports whether this is the offline build: `go build -tags
// offline ./cmd/portcullis` (the README's first command) has scan, lint,
// test and version with the full build's flags and output, and leaves
// out what links cosign, sigstore, OPA, CUE or the findings store's
// database drivers: the serve, verify and dashboard commands, scan
// --library and --store (and $PORTCULLIS_LIBRARY), the rule tests of a
// Kubescape control library, and the compilation of ClusterImagePolicy
// attestation policies at load (they are loaded unchecked; their image
// checks are "not available offline" in scan and test in both builds).
// It compiles about half the packages of the full build.
const Offline = true

// errFullBuild says that what was asked is not in the offline build.
func errFullBuild(what string) error {
	return withCode(ExitInvalid, fmt.Errorf("%s needs the full portcullis: this one is built with -tags offline, without image verification, Rego, CUE and the findings store (go install ./cmd/portcullis builds the full one)", what))
}

// attestationCompiler: none offline; attestation policies are loaded
// unchecked (imagepolicy.Policy.Unchecked).
func attestationCompiler() policy.AttestationCompiler { return nil }

// fullCommands: serve, verify and dashboard are not in the offline build.
func fullCommands() []*cobra.Command { return nil }

func runLibraryScan(*cobra.Command, []string, scanOptions, string, int) error {
	return errFullBuild("scan with a Kubescape control library (--library, $" + LibraryEnv + ")")
}

func runLibraryTests(*cobra.Command, []string, bool, bool, string) error {
	return errFullBuild("running the rule tests of a Kubescape control library")
}

// scanStore is never opened offline.
type scanStore struct{}

func openScanStore(_ context.Context, url string, _ []string, _ *policy.Set) (*scanStore, error) {
	if url == "" {
		return nil, nil
	}
	return nil, errFullBuild("scan --store")
}

func (*scanStore) add(files.Outcome)           {}
func (*scanStore) write(context.Context) error { return nil }
func (*scanStore) close()                      {}
