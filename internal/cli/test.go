package cli

import (
	"fmt"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/kyvernotest"
	"github.com/spf13/cobra"
)

func newTestCommand() *cobra.Command {
	var (
		fileName        string
		failOnly        bool
		detailedResults bool
		output          string
	)
	cmd := &cobra.Command{
		Use:   "test DIR...",
		Short: "Run Kyverno CLI test suites (kyverno-test.yaml)",
		Long: `Run Kyverno CLI test suites. Every file named kyverno-test.yaml below each DIR
(hidden directories such as .kyverno-test included) is a cli.kyverno.io/v1alpha1
Test naming policies, resources, optional values/variables and userinfo files, and
the expected result (pass, fail, skip, warn, error) of each policy rule on each
resource. Each (result entry, resource) pair counts as one test, as kyverno test
counts them. Exits 1 when any test fails.

A Kubescape control library (a DIR with rules/<rule>/test/<case>/, or one rule
directory) runs its rule tests instead: each case gives the rule its input/
objects (and data.json configuration inputs) and passes when the responses equal
expected.json (and the filter's, expected-filter.json) once both lists are
sorted, as the library's own test runner compares them. One case is one test.`,
		Example: `  # run every suite below a directory
  portcullis test ./policies

  # only show what failed, with the rule messages
  portcullis test ./policies --fail-only --detailed-results

  # machine-readable outcome of every entry
  portcullis test ./policies -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return withCode(ExitInvalid, fmt.Errorf("unknown output format %q (want table or json)", output))
			}
			if isLibraryTest(args) {
				return runLibraryTests(cmd, args, failOnly, detailedResults, output)
			}
			files, err := kyvernotest.Discover(args, fileName)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			if len(files) == 0 {
				return withCode(ExitInvalid, fmt.Errorf("no %s files found under %v", fileName, args))
			}
			r := &kyvernotest.Runner{Engine: engine.New(), Attestations: attestationCompiler()}
			rep, err := r.Run(cmd.Context(), files)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				err = rep.WriteJSON(out, failOnly)
			} else {
				err = rep.WriteText(out, kyvernotest.RenderOptions{FailOnly: failOnly, Detailed: detailedResults, Color: isTerminal(out)})
			}
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			if rep.Fail > 0 {
				return withCode(ExitFindings, fmt.Errorf("%d %s failed", rep.Fail, plural(rep.Fail, "test", "tests")))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&fileName, "file-name", kyvernotest.DefaultFileName, "name of the test files to look for")
	cmd.Flags().BoolVar(&failOnly, "fail-only", false, "show only failing results")
	cmd.Flags().BoolVar(&detailedResults, "detailed-results", false, "add the rule message to each result row")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
