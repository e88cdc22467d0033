package cli

import (
	"fmt"

	"github.com/portcullis/portcullis/internal/policy"
	"github.com/spf13/cobra"
)

func newLintCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lint POLICY...",
		Short: "Check policy files without evaluating anything",
		Long: `Check Kyverno ClusterPolicy/Policy files (files or directories, multi-document
YAML or JSON) with the same checks loading applies: YAML syntax, schema, rule
bodies, match kinds, operators, pattern syntax, JMESPath expressions and
podSecurity settings. Every problem is reported with its file, policy, rule and
field. Exits 0 when all policies are valid, 2 otherwise.`,
		Example: `  portcullis lint policy.yaml
  portcullis lint ./policies/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := policy.LoadFiles(args, policy.Options{})
			if err != nil {
				for _, e := range policy.AsErrors(err) {
					fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
				}
				n := len(policy.AsErrors(err))
				return withCode(ExitInvalid, fmt.Errorf("%d %s found", n, map[bool]string{true: "problem", false: "problems"}[n == 1]))
			}
			if set.Len() == 0 {
				return withCode(ExitInvalid, fmt.Errorf("no policies found in %v", args))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%d %s valid (%d rules, autogen included)\n", set.Len(),
				map[bool]string{true: "policy", false: "policies"}[set.Len() == 1], set.NumRules())
			return err
		},
	}
	return cmd
}
