package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

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

// Build information, set for release builds with -ldflags
// "-X github.com/portcullis/portcullis/internal/cli.version=v1.2.3 -X ...commit=... -X ...date=...".
// Unset, they come from the build info Go records (module version, VCS
// revision and time).
var (
	version = ""
	commit  = ""
	date    = ""
)

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
}

// Build returns the binary's build information: the -ldflags values, else
// what debug.ReadBuildInfo records, else "devel".
func Build() BuildInfo {
	b := BuildInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

// Version returns the build's version (see Build).
func Version() string { return Build().Version }

// String is the one-line form: "portcullis v1.2.3 (commit abc1234, 2026-12-05T10:00:00Z, go1.26.0)".
func (b BuildInfo) String() string {
	parts := []string{}
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if b.Modified {
			c += "-dirty"
		}
		parts = append(parts, "commit "+c)
	}
	if b.Date != "" {
		parts = append(parts, b.Date)
	}
	parts = append(parts, b.GoVersion)
	return fmt.Sprintf("portcullis %s (%s)", b.Version, strings.Join(parts, ", "))
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
		Version:       Build().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newVersionCommand(), newTestCommand(), newLintCommand(), newScanCommand())
	root.AddCommand(fullCommands()...)
	return root
}

func newVersionCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Long: `Print the version, commit, build date and Go version of this binary. Release
builds set them with -ldflags; other builds take them from the Go build info.`,
		Example: "  portcullis version\n  portcullis version -o json\n  portcullis --version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch output {
			case "text":
				_, err := fmt.Fprintln(cmd.OutOrStdout(), Build())
				return err
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(Build())
			}
			return withCode(ExitInvalid, fmt.Errorf("unknown output format %q (want text or json)", output))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
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
		switch {
		case ee.err == nil || ee.err.Error() == "":
		case ee.code == ExitFindings:
			// Findings are the outcome the command exists for, not an error.
			fmt.Fprintln(stderr, ee.err)
		default:
			fmt.Fprintln(stderr, "Error:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "Error:", err)
	return ExitInvalid
}
