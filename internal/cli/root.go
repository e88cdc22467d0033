package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK = 0
	// ExitFindings: scan found failures at or above --fail-on, or a test failed.
	ExitFindings = 1
	// ExitInvalid: invalid input (malformed policy, bad flags, unreadable files).
	ExitInvalid = 2
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// version is set at build time with -ldflags "-X .../internal/cli.version=v1.2.3".
var version = ""

// Version returns the build's version: the ldflags value, else the module
// version from the build info, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// NewRootCommand returns the portcullis command tree.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "portcullis",
		Short: "Kubernetes policy and supply-chain enforcement",
		Long: `Portcullis evaluates Kubernetes resources against policies written in the
Kyverno ClusterPolicy/Policy format: offline against manifests (scan), against
Kyverno CLI test suites (test), and checks policy files (lint).

Exit codes: 0 success, 1 findings or failed tests, 2 invalid input.`,
		Example: `  # scan manifests with the built-in Pod Security Standards and runbook policies
  portcullis scan ./manifests

  # run existing kyverno test suites
  portcullis test ./policies

  # check policy files
  portcullis lint ./policies`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCommand(), newTestCommand(), newLintCommand(), newScanCommand(), newServeCommand(), newVerifyCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  portcullis version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "portcullis %s\n", Version())
			return err
		},
	}
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "Error:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return ExitInvalid
}
