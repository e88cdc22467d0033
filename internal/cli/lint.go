package cli

import (
	"fmt"
	"strings"

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
			// PolicyExceptions are checked as strictly as policies and
			// counted with them here.
			total := set.Len() + len(set.Exceptions)
			if total == 0 {
				return withCode(ExitInvalid, fmt.Errorf("no policies found in %v", args))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%d %s valid (%s)\n", total, plural(total, "policy", "policies"), describeSet(set))
			return err
		},
	}
	return cmd
}

// describeSet says what a valid set holds: Kyverno rules (autogen
// included) and the other policy kinds, each counted in its own unit.
func describeSet(set *policy.Set) string {
	var parts []string
	if len(set.Policies) > 0 {
		parts = append(parts, fmt.Sprintf("%d %s, autogen included", set.NumRules(), plural(set.NumRules(), "rule", "rules")))
	}
	for _, k := range []struct {
		n          int
		one, other string
	}{
		{len(set.Validating), "ValidatingPolicy", "ValidatingPolicies"},
		{len(set.Admission), "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicies"},
		{len(set.Images), "ClusterImagePolicy", "ClusterImagePolicies"},
		{len(set.Exceptions), "PolicyException", "PolicyExceptions"},
	} {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k.n, plural(k.n, k.one, k.other)))
		}
	}
	return strings.Join(parts, "; ")
}

func plural(n int, one, other string) string {
	if n == 1 {
		return one
	}
	return other
}
