package policy

import (
	"fmt"
	"strings"
	"time"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	kyvernov2 "github.com/portcullis/portcullis/api/kyverno/v2"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/pss"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/wildcard"
)

// KindPolicyException names PolicyExceptions in Set.Select (both the
// kyverno.io and the policies.kyverno.io kind).
const KindPolicyException = "PolicyException"

// Exception is one compiled PolicyException: a kyverno.io/v2 (or v2beta1)
// exception of Kyverno ClusterPolicy/Policy rules (Spec set), or a
// policies.kyverno.io exception of CEL policies (CEL set).
type Exception struct {
	// Spec is the kyverno.io exception as written (nil for a CEL one).
	Spec *kyvernov2.PolicyException
	// CEL is the policies.kyverno.io exception as written (nil for a
	// kyverno.io one).
	CEL *policiesv1.PolicyException
	// File is where it was loaded from.
	File string
	// Match is the compiled spec.match (kyverno.io).
	Match *Match
	// PodSecurity are the exempted Pod Security Standards controls
	// (kyverno.io), validated at load.
	PodSecurity []pss.Exclusion
	// Conditions is spec.conditions as written (kyverno.io), evaluated
	// with the rule's context.
	Conditions any
	// Program holds the compiled matchConditions (policies.kyverno.io).
	Program *cel.Program
}

// Name returns the exception's name.
func (x *Exception) Name() string {
	if x.CEL != nil {
		return x.CEL.Name
	}
	return x.Spec.Name
}

// Namespace returns the exception's namespace ("" when the document
// names none).
func (x *Exception) Namespace() string {
	if x.CEL != nil {
		return x.CEL.Namespace
	}
	return x.Spec.Namespace
}

// Key is "namespace/name" (or "name" without a namespace), as Kyverno
// names exceptions in its messages.
func (x *Exception) Key() string {
	if ns := x.Namespace(); ns != "" {
		return ns + "/" + x.Name()
	}
	return x.Name()
}

// Background reports whether the exception applies in background scans
// (kyverno.io spec.background, default true; CEL exceptions always).
func (x *Exception) Background() bool {
	return x.Spec == nil || x.Spec.Spec.BackgroundEnabled()
}

// Expired reports whether a CEL exception's expiresAt has passed at now.
func (x *Exception) Expired(now time.Time) bool {
	return x.CEL != nil && x.CEL.Spec.ExpiresAt != nil && !now.Before(x.CEL.Spec.ExpiresAt.Time)
}

// Partial reports whether a CEL exception only narrows its policy
// (images, allowedValues: the policy reads them through the CEL
// `exceptions` variable) instead of exempting the request as a whole.
func (x *Exception) Partial() bool {
	return x.CEL != nil && (len(x.CEL.Spec.Images) > 0 || len(x.CEL.Spec.AllowedValues) > 0)
}

// ReportPass reports whether an exempted result is reported as pass
// (CEL reportResult: pass) instead of skip.
func (x *Exception) ReportPass() bool {
	return x.CEL != nil && x.CEL.Spec.ReportResult == "pass"
}

// Covers reports whether a kyverno.io exception names the rule of the
// Kyverno policy with key policyKey ("name" or "namespace/name"): policy
// and rule names are matched as wildcards, as in Kyverno, so an autogen
// rule ("autogen-x") is covered only when a pattern names it.
func (x *Exception) Covers(policyKey, rule string) bool {
	if x.Spec == nil {
		return false
	}
	for _, e := range x.Spec.Spec.Exceptions {
		if !wildcard.Match(e.PolicyName, policyKey) {
			continue
		}
		for _, r := range e.RuleNames {
			if wildcard.Match(r, rule) {
				return true
			}
		}
	}
	return false
}

// CoversPolicy reports whether a CEL exception names the policy of kind
// (KindValidatingPolicy, ...) and name.
func (x *Exception) CoversPolicy(kind, name string) bool {
	if x.CEL == nil {
		return false
	}
	for _, r := range x.CEL.Spec.PolicyRefs {
		if r.Kind == kind && r.Name == name {
			return true
		}
	}
	return false
}

// celExceptionKinds are the policy kinds a policies.kyverno.io exception
// may name.
var celExceptionKinds = []string{"ValidatingPolicy", "ImageValidatingPolicy", "MutatingPolicy", "GeneratingPolicy", "DeletingPolicy", "NamespacedValidatingPolicy", "NamespacedImageValidatingPolicy", "NamespacedMutatingPolicy", "NamespacedGeneratingPolicy", "NamespacedDeletingPolicy"}

// isException reports whether a document is a PolicyException this
// package loads, and which group it belongs to.
func isException(kind, group string) bool {
	return kind == kyvernov2.KindPolicyException && (group == kyvernov2.Group || group == policiesv1.Group)
}

// compileException validates and compiles a PolicyException document.
func (c *compiler) compileException(d manifest.Document) (*Exception, Errors) {
	group, _, _ := strings.Cut(d.APIVersion(), "/")
	if group == policiesv1.Group {
		return c.compileCELException(d)
	}
	name := d.Name()
	fail := func(field, msg string, err error) Errors {
		return Errors{{Policy: name, Field: field, Msg: msg, Err: err}}
	}
	switch d.APIVersion() {
	case kyvernov2.APIVersion, kyvernov2.APIVersionV2Beta1:
	default:
		return nil, fail("apiVersion", fmt.Sprintf("unsupported apiVersion %q for PolicyException (want %s or %s)", d.APIVersion(), kyvernov2.APIVersion, kyvernov2.APIVersionV2Beta1), nil)
	}
	if name == "" {
		return nil, fail("metadata.name", "exception has no name", nil)
	}
	var spec kyvernov2.PolicyException
	if err := decodeInto(d.Object, &spec); err != nil {
		return nil, fail("", "exception does not match the PolicyException schema", err)
	}
	var errs Errors
	add := func(field, msg string, err error) {
		errs = append(errs, &Error{Policy: name, Field: field, Msg: msg, Err: err})
	}
	if len(spec.Spec.Exceptions) == 0 {
		add("spec.exceptions", "exception names no policy", nil)
	}
	for i, e := range spec.Spec.Exceptions {
		f := fmt.Sprintf("spec.exceptions[%d]", i)
		if e.PolicyName == "" {
			add(f+".policyName", "an exception requires a policy name", nil)
		}
		if len(e.RuleNames) == 0 {
			add(f+".ruleNames", "an exception requires at least one rule name", nil)
		}
	}
	m := spec.Spec.Match
	match, merr := c.compileMatch(&kyvernov1.MatchResources{Any: m.Any, All: m.All}, "spec.match", false)
	for _, e := range AsErrors(merr) {
		e.Policy = name
		errs = append(errs, e)
	}
	if spec.Spec.BackgroundEnabled() {
		// As Kyverno: an exception applied in background scans cannot
		// select by user, which only admission requests have.
		for _, l := range []struct {
			name    string
			filters []kyvernov1.ResourceFilter
		}{{"any", m.Any}, {"all", m.All}} {
			for i, f := range l.filters {
				if !f.UserInfo.IsEmpty() {
					add(fmt.Sprintf("spec.match.%s[%d]", l.name, i), "roles, clusterRoles and subjects are not allowed when background is true (set spec.background: false)", nil)
				}
			}
		}
	}
	if spec.Spec.Conditions != nil {
		for _, e := range c.checkConditions("", "spec.conditions", spec.Spec.Conditions) {
			e.Policy = name
			errs = append(errs, e)
		}
	}
	x := &Exception{Spec: &spec, File: d.Source, Match: match, Conditions: spec.Spec.Conditions}
	for i, ps := range spec.Spec.PodSecurity {
		ex := pss.Exclusion{ControlName: ps.ControlName, Images: ps.Images, RestrictedField: ps.RestrictedField, Values: ps.Values}
		// Checked against the restricted level, which has every control.
		if _, err := pss.Compile(pss.Spec{Level: "restricted", Exclude: []pss.Exclusion{ex}}); err != nil {
			add(fmt.Sprintf("spec.podSecurity[%d]", i), "invalid podSecurity control", trimExcludeIndex(err))
			continue
		}
		x.PodSecurity = append(x.PodSecurity, ex)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return x, nil
}

// trimExcludeIndex drops the "podSecurity.exclude[0]." prefix pss puts in
// front of an exclusion's error (the exception's field is named instead).
func trimExcludeIndex(err error) error {
	msg := strings.TrimPrefix(err.Error(), "podSecurity.exclude[0].")
	return fmt.Errorf("%s", msg)
}

// compileCELException validates and compiles a policies.kyverno.io
// PolicyException.
func (c *compiler) compileCELException(d manifest.Document) (*Exception, Errors) {
	name := d.Name()
	fail := func(field, msg string, err error) Errors {
		return Errors{{Policy: name, Field: field, Msg: msg, Err: err}}
	}
	switch d.APIVersion() {
	case policiesv1.Group + "/v1alpha1", policiesv1.Group + "/v1beta1", policiesv1.Group + "/v1":
	default:
		return nil, fail("apiVersion", fmt.Sprintf("unsupported apiVersion %q for PolicyException (want %s/v1, v1beta1 or v1alpha1)", d.APIVersion(), policiesv1.Group), nil)
	}
	if name == "" {
		return nil, fail("metadata.name", "exception has no name", nil)
	}
	var spec policiesv1.PolicyException
	if err := decodeInto(d.Object, &spec); err != nil {
		return nil, fail("", "exception does not match the PolicyException schema", err)
	}
	var errs Errors
	add := func(field, msg string, err error) {
		errs = append(errs, &Error{Policy: name, Field: field, Msg: msg, Err: err})
	}
	if len(spec.Spec.PolicyRefs) == 0 {
		add("spec.policyRefs", "exception names no policy", nil)
	}
	for i, r := range spec.Spec.PolicyRefs {
		f := fmt.Sprintf("spec.policyRefs[%d]", i)
		if r.Name == "" {
			add(f+".name", "a policy reference requires a name", nil)
		}
		known := false
		for _, k := range celExceptionKinds {
			known = known || r.Kind == k
		}
		if !known {
			add(f+".kind", fmt.Sprintf("unknown policy kind %q (want one of %s)", r.Kind, strings.Join(celExceptionKinds, ", ")), nil)
		}
	}
	switch spec.Spec.ReportResult {
	case "", "skip", "pass":
	default:
		add("spec.reportResult", fmt.Sprintf("unknown reportResult %q (want skip or pass)", spec.Spec.ReportResult), nil)
	}
	x := &Exception{CEL: &spec, File: d.Source}
	if len(spec.Spec.MatchConditions) > 0 {
		cc, err := c.cel.get()
		if err != nil {
			return nil, fail("", "cannot build the CEL environment", err)
		}
		prog, cerr := cc.Compile(cel.Spec{Dialect: cel.Kyverno, FieldPrefix: "spec.",
			MatchConditions: toCELConditions(spec.Spec.MatchConditions)})
		if cerr != nil {
			errs = append(errs, celErrors(Error{Policy: name, Field: "spec"}, cerr)...)
		}
		x.Program = prog
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return x, nil
}

// ExceptionsFor returns the kyverno.io exceptions that name rule of the
// Kyverno policy with key policyKey, in the Set's order.
func (s *Set) ExceptionsFor(policyKey, rule string) []*Exception {
	var out []*Exception
	for _, x := range s.Exceptions {
		if x.Covers(policyKey, rule) {
			out = append(out, x)
		}
	}
	return out
}

// CELExceptionsFor returns the policies.kyverno.io exceptions that name
// the CEL policy of kind and name.
func (s *Set) CELExceptionsFor(kind, name string) []*Exception {
	var out []*Exception
	for _, x := range s.Exceptions {
		if x.CoversPolicy(kind, name) {
			out = append(out, x)
		}
	}
	return out
}

// WithExceptions returns a copy of s whose exceptions are xs (policies
// and compiled rules are shared with s).
func (s *Set) WithExceptions(xs []*Exception) *Set {
	out := *s
	out.Exceptions = xs
	return &out
}

// OnlyExceptionsIn returns a copy of s keeping the exceptions for which
// keep returns true (policies and compiled rules shared with s).
func (s *Set) OnlyExceptionsIn(keep func(*Exception) bool) *Set {
	var xs []*Exception
	for _, x := range s.Exceptions {
		if keep(x) {
			xs = append(xs, x)
		}
	}
	return s.WithExceptions(xs)
}

// LoadExceptions reads the PolicyExceptions of files and directories
// (`portcullis scan --exceptions`, the exceptions files of a kyverno
// test); other documents of those files are not loaded. Problems are
// *Error values in Errors; the exceptions that loaded are returned too.
func LoadExceptions(paths []string) ([]*Exception, error) {
	docs, errs := ReadFiles(paths)
	var only []manifest.Document
	for _, d := range docs {
		group, _, _ := strings.Cut(d.APIVersion(), "/")
		if isException(d.Kind(), group) {
			only = append(only, d)
		}
	}
	set, err := Compile(only, Options{})
	errs = append(errs, AsErrors(err)...)
	if len(errs) > 0 {
		return set.Exceptions, errs
	}
	return set.Exceptions, nil
}
