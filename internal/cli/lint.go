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
		Long: `Check policy files (files or directories, multi-document YAML or JSON) with the
same checks loading applies: Kyverno ClusterPolicy/Policy (YAML syntax, schema, rule
bodies, match kinds, operators, pattern syntax, JMESPath expressions, podSecurity,
CEL), ValidatingPolicy, ValidatingAdmissionPolicy and bindings, and sigstore
ClusterImagePolicy (globs, authorities, keys, identities, modes). Every problem is reported with its file, policy, rule and
field. Exits 0 when all policies are valid, 2 otherwise.`,
		Example: `  portcullis lint policy.yaml
  portcullis lint ./policies/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			docs, errs := policy.ReadFiles(args)
			set, err := policy.Compile(docs, policy.Options{})
			errs = append(errs, policy.AsErrors(err)...)
			if len(errs) > 0 {
				for _, e := range errs {
					fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
				}
				n := len(errs)
				return withCode(ExitInvalid, fmt.Errorf("%d %s found", n, map[bool]string{true: "problem", false: "problems"}[n == 1]))
			}
			total := set.Len()
			if total == 0 {
				return withCode(ExitInvalid, fmt.Errorf("no policies found in %v", args))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%d %s valid (%d rules, autogen included)\n", total,
				map[bool]string{true: "policy", false: "policies"}[total == 1], set.NumRules())
			return err
		},
	}
	return cmd
}
