package cli

import (
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/manifest"
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
			set, err := policy.Compile(docs, policy.Options{Attestations: attestationCompiler()})
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
			for _, n := range uncheckedNotes(docs, set) {
				fmt.Fprintln(cmd.ErrOrStderr(), n)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%d %s valid (%s)\n", total, plural(total, "policy", "policies"), describeSet(set))
			return err
		},
	}
	return cmd
}

// MsgUnchecked is the note lint writes, on stderr, for each attestation
// policy of a ClusterImagePolicy it could not compile: the offline build
// (-tags offline) has no Rego, CUE or CEL compiler for them.
const MsgUnchecked = "not compiled: this portcullis is built with -tags offline, without the Rego, CUE and CEL of attestation policies (go install ./cmd/portcullis builds the full one)"

// uncheckedNotes locates the attestation policies of set that were loaded
// without being compiled (imagepolicy.Policy.Unchecked; none in the full
// build), one "note: file:line: policy "name": field: MsgUnchecked" each.
func uncheckedNotes(docs []manifest.Document, set *policy.Set) []string {
	var out []string
	for _, p := range set.Images {
		for _, field := range p.Unchecked {
			e := &policy.Error{File: p.Source, Document: p.Document, Policy: p.Name(), Field: field, Msg: MsgUnchecked}
			for _, d := range docs {
				if d.Source == p.Source && d.Index == p.Document && d.Raw != nil {
					e.Line = manifest.FieldLine(d.Raw, d.Line, field)
				}
			}
			out = append(out, "note: "+e.Error())
		}
	}
	return out
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
