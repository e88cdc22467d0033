//go:build !offline

package cli

import (
	"fmt"

	"github.com/portcullis/portcullis/internal/kubescape"
	"github.com/spf13/cobra"
)

// runLibraryTests runs the rule tests of Kubescape control libraries.
func runLibraryTests(cmd *cobra.Command, dirs []string, failOnly, detailed bool, output string) error {
	if output != "table" && output != "json" {
		return withCode(ExitInvalid, fmt.Errorf("unknown output format %q (want table or json)", output))
	}
	out := cmd.OutOrStdout()
	failed := 0
	for _, d := range dirs {
		rep, err := kubescape.RunTests(cmd.Context(), d, nil)
		if err != nil {
			return withCode(ExitInvalid, err)
		}
		if rep.Pass+rep.Fail == 0 {
			return withCode(ExitInvalid, fmt.Errorf("no rule tests found under %s", d))
		}
		if output == "json" {
			err = rep.WriteJSON(out, failOnly)
		} else {
			err = rep.WriteText(out, failOnly, detailed, isTerminal(out))
		}
		if err != nil {
			return withCode(ExitInvalid, err)
		}
		failed += rep.Fail
	}
	if failed > 0 {
		return withCode(ExitFindings, fmt.Errorf("%d %s failed", failed, plural(failed, "test", "tests")))
	}
	return nil
}
