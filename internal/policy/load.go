package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	kyvernov2 "github.com/portcullis/portcullis/api/kyverno/v2"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/lang/jmespath"
	"github.com/portcullis/portcullis/internal/manifest"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// Options tune loading. The zero value is ready to use.
type Options struct {
	// SkipUnsupported ignores documents whose kind this package does not
	// load (ValidatingPolicy, ValidatingAdmissionPolicy, ...) instead of
	// reporting them; they are listed in Set.Unsupported.
	SkipUnsupported bool
	// Attestations compiles the Rego, CUE and CEL policies of
	// ClusterImagePolicy attestations at load (attest.Check). Nil loads
	// them unchecked (imagepolicy.Policy.Unchecked): the offline
	// commands, which cannot verify images anyway, are built without
	// OPA and CUE. Commands that verify images and lint pass it.
	Attestations AttestationCompiler
}

// AttestationCompiler compiles the source of an attestation policy (see
// imagepolicy.AttestationCompiler); attest.Check implements it.
type AttestationCompiler = imagepolicy.AttestationCompiler

// LoadFiles reads, validates and compiles the policies in paths (files or
// directories). Every problem is reported as an *Error inside Errors.
func LoadFiles(paths []string, opts Options) (*Set, error) {
	docs, errs := ReadFiles(paths)
	set, err := Compile(docs, opts)
	if err != nil {
		errs = append(errs, AsErrors(err)...)
	}
	if len(errs) > 0 {
		return set, errs
	}
	return set, nil
}

// ReadFiles reads the documents of policy files and directories, reporting
// unreadable paths and unparsable documents as *Error values (the
// documents that parsed are returned too).
func ReadFiles(paths []string) ([]manifest.Document, Errors) {
	var docs []manifest.Document
	var errs Errors
	for _, p := range paths {
		files, err := manifest.ListFiles(p)
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: "cannot read policy path", Err: unwrapPathErr(err)})
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, &Error{File: f, Msg: "cannot read policy file", Err: unwrapPathErr(err)})
				continue
			}
			d, derr := manifest.Decode(f, data)
			docs = append(docs, d...)
			errs = append(errs, parseErrors(derr)...)
		}
	}
	return docs, errs
}

// LoadReader is LoadFiles for one stream (source names it in errors).
func LoadReader(source string, r io.Reader, opts Options) (*Set, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, Errors{{File: source, Msg: "cannot read policies", Err: err}}
	}
	return LoadBytes(source, data, opts)
}

// LoadBytes is LoadFiles for in-memory data.
func LoadBytes(source string, data []byte, opts Options) (*Set, error) {
	docs, derr := manifest.Decode(source, data)
	errs := parseErrors(derr)
	set, err := Compile(docs, opts)
	if err != nil {
		errs = append(errs, AsErrors(err)...)
	}
	if len(errs) > 0 {
		return set, errs
	}
	return set, nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func parseErrors(err error) Errors {
	if err == nil {
		return nil
	}
	var out Errors
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if pe, ok := e.(*manifest.ParseError); ok {
			out = append(out, &Error{File: pe.Source, Document: pe.Index, Line: pe.Line, Msg: "cannot parse document", Err: pe.Err})
			return
		}
		out = append(out, &Error{Msg: e.Error()})
	}
	walk(err)
	return out
}

// Compile validates and compiles decoded policy documents into a Set:
// Kyverno ClusterPolicy/Policy, ValidatingPolicy, MutatingPolicy,
// ValidatingAdmissionPolicy and MutatingAdmissionPolicy with bindings,
// sigstore ClusterImagePolicy (through internal/imagepolicy) and
// PolicyExceptions (kyverno.io and policies.kyverno.io).
// Documents that are not policies are ignored (a policy file may carry
// other resources); unsupported policy kinds are reported unless
// opts.SkipUnsupported. The returned Set holds every valid policy even
// when an error is returned.
func Compile(docs []manifest.Document, opts Options) (*Set, error) {
	set := &Set{}
	var errs Errors
	seen := map[string]manifest.Document{}
	c := &compiler{jp: jmespath.New()}
	var bindings []*AdmissionBinding
	var imageDocs []manifest.Document
	bindingDocs := map[*AdmissionBinding]manifest.Document{}
	var mapBindings []*MutatingAdmissionBinding
	mapBindingDocs := map[*MutatingAdmissionBinding]manifest.Document{}
	// unique records a policy key; a second definition is an error.
	unique := func(key string, d manifest.Document) bool {
		if prev, dup := seen[key]; dup {
			errs = append(errs, &Error{File: d.Source, Document: d.Index, Policy: d.Name(), Field: "metadata.name",
				Msg: fmt.Sprintf("duplicate policy name, already defined in %s", prev.Location())})
			return false
		}
		seen[key] = d
		return true
	}
	for _, d := range docs {
		kind, apiVersion := d.Kind(), d.APIVersion()
		group := strings.SplitN(apiVersion, "/", 2)[0]
		if ferrs := checkSchema(d); len(ferrs) > 0 {
			errs = append(errs, located(ferrs, d)...)
			continue
		}
		switch {
		case (kind == kyvernov1.KindClusterPolicy || kind == kyvernov1.KindPolicy) && (group == kyvernov1.Group || group == kyvernov1.PortcullisGroup):
		case group == admissionGroup && (kind == kindVAP || kind == kindVAPBinding):
			if apiVersion != admissionAPIVersion && apiVersion != admissionAPIVersionB {
				errs = append(errs, &Error{File: d.Source, Document: d.Index, Policy: d.Name(), Field: "apiVersion",
					Msg: fmt.Sprintf("unsupported apiVersion %q (want %s)", apiVersion, admissionAPIVersion)})
				continue
			}
			if kind == kindVAPBinding {
				b, berrs := compileVAPBinding(d)
				errs = append(errs, located(berrs, d)...)
				if b != nil {
					bindings = append(bindings, b)
					bindingDocs[b] = d
				}
				continue
			}
			ap, aerrs := c.compileVAP(d)
			errs = append(errs, located(aerrs, d)...)
			if ap != nil && unique("ValidatingAdmissionPolicy/"+ap.Name(), d) {
				set.Admission = append(set.Admission, ap)
			}
			continue
		case group == admissionGroup && (kind == kindMAP || kind == kindMAPBinding):
			if !hasVersion(mapAPIVersions, apiVersion) {
				errs = append(errs, &Error{File: d.Source, Document: d.Index, Policy: d.Name(), Field: "apiVersion",
					Msg: fmt.Sprintf("unsupported apiVersion %q (want one of %s)", apiVersion, strings.Join(mapAPIVersions, ", "))})
				continue
			}
			if kind == kindMAPBinding {
				b, berrs := compileMAPBinding(d)
				errs = append(errs, located(berrs, d)...)
				if b != nil {
					mapBindings = append(mapBindings, b)
					mapBindingDocs[b] = d
				}
				continue
			}
			mp, merrs := c.compileMAP(d)
			errs = append(errs, located(merrs, d)...)
			if mp != nil && unique("MutatingAdmissionPolicy/"+mp.Name(), d) {
				set.MutatingAdmission = append(set.MutatingAdmission, mp)
			}
			continue
		case kind == policiesv1.KindMutatingPolicy && group == policiesv1.Group:
			mp, merrs := c.compileMutatingPolicy(d)
			errs = append(errs, located(merrs, d)...)
			if mp != nil && unique("MutatingPolicy/"+mp.Name(), d) {
				set.Mutating = append(set.Mutating, mp)
			}
			continue
		case kind == policiesv1.KindValidatingPolicy && group == policiesv1.Group:
			vp, verrs := c.compileValidatingPolicy(d)
			errs = append(errs, located(verrs, d)...)
			if vp != nil && unique("ValidatingPolicy/"+vp.Name(), d) {
				set.Validating = append(set.Validating, vp)
			}
			continue
		case kind == policiesv1.KindGeneratingPolicy && group == policiesv1.Group:
			gp, gerrs := c.compileGeneratingPolicy(d)
			errs = append(errs, located(gerrs, d)...)
			if gp != nil && unique("GeneratingPolicy/"+gp.Name(), d) {
				set.Generating = append(set.Generating, gp)
			}
			continue
		case imagepolicy.IsClusterImagePolicy(d):
			imageDocs = append(imageDocs, d)
			continue
		case isException(kind, group):
			x, xerrs := c.compileException(d)
			errs = append(errs, located(xerrs, d)...)
			if x != nil && unique("PolicyException/"+group+"/"+x.Key(), d) {
				set.Exceptions = append(set.Exceptions, x)
			}
			continue
		case isPolicyKind(kind, group):
			if opts.SkipUnsupported {
				set.Unsupported = append(set.Unsupported, Unsupported{File: d.Source, Kind: kind, Name: d.Name()})
				continue
			}
			errs = append(errs, &Error{File: d.Source, Document: d.Index, Policy: d.Name(), Field: "kind",
				Msg: fmt.Sprintf("%s %s is not supported yet", apiVersion, kind)})
			continue
		default:
			continue
		}
		if apiVersion != kyvernov1.APIVersion && apiVersion != "kyverno.io/v2beta1" && apiVersion != kyvernov1.PortcullisAPIVersion {
			errs = append(errs, &Error{File: d.Source, Document: d.Index, Policy: d.Name(), Field: "apiVersion",
				Msg: fmt.Sprintf("unsupported apiVersion %q (want %s)", apiVersion, kyvernov1.APIVersion)})
			continue
		}
		p, perrs := c.compilePolicy(d)
		errs = append(errs, located(perrs, d)...)
		if p != nil && len(perrs) == 0 && unique(p.Key(), d) {
			set.Policies = append(set.Policies, p)
		}
	}
	sort.SliceStable(set.Policies, func(i, j int) bool { return set.Policies[i].Key() < set.Policies[j].Key() })
	sort.SliceStable(set.Validating, func(i, j int) bool { return set.Validating[i].Name() < set.Validating[j].Name() })
	sort.SliceStable(set.Admission, func(i, j int) bool { return set.Admission[i].Name() < set.Admission[j].Name() })
	sort.SliceStable(set.Generating, func(i, j int) bool { return set.Generating[i].Name() < set.Generating[j].Name() })
	sort.SliceStable(set.Mutating, func(i, j int) bool { return set.Mutating[i].Name() < set.Mutating[j].Name() })
	sort.SliceStable(set.MutatingAdmission, func(i, j int) bool { return set.MutatingAdmission[i].Name() < set.MutatingAdmission[j].Name() })
	sort.SliceStable(set.Exceptions, func(i, j int) bool { return set.Exceptions[i].Key() < set.Exceptions[j].Key() })
	errs = append(errs, bindAdmissionPolicies(set, bindings, bindingDocs)...)
	errs = append(errs, bindMutatingAdmissionPolicies(set, mapBindings, mapBindingDocs)...)
	images, err := imagepolicy.LoadWithOptions(imageDocs, imagepolicy.Options{Attestations: opts.Attestations})
	errs = append(errs, AsErrors(err)...)
	set.Images = images
	// Problems found outside located (duplicates, unsupported kinds and
	// versions, bindings, ClusterImagePolicies) get their field's line.
	byDoc := map[string]manifest.Document{}
	for _, d := range docs {
		byDoc[fmt.Sprintf("%s\x00%d", d.Source, d.Index)] = d
	}
	for _, e := range errs {
		if d, ok := byDoc[fmt.Sprintf("%s\x00%d", e.File, e.Document)]; ok && e.Line == 0 {
			located(Errors{e}, d)
		}
	}
	set.buildIndex(true)
	if len(errs) > 0 {
		return set, errs
	}
	return set, nil
}

// located sets the file, document and line of errors found in d: the
// line of the field when the document's text is known, else the line the
// document starts on.
func located(errs Errors, d manifest.Document) Errors {
	for _, e := range errs {
		e.File, e.Document = d.Source, d.Index
		if e.Line == 0 {
			e.Line = d.Line
			if e.Field != "" && d.Raw != nil {
				e.Line = manifest.FieldLine(d.Raw, d.Line, e.Field)
			}
		}
	}
	return errs
}

// schemas are the Go types policy documents are decoded into, by kind
// and API group, with the paths left to other checks or free-form.
var schemas = []struct {
	kind, group string
	typ         any
	loose       []string
}{
	// verifyImages has its own field checks (checkRawVerifyImages).
	{kyvernov1.KindClusterPolicy, kyvernov1.Group, &kyvernov1.Policy{}, []string{"status", "spec.rules[*].verifyImages"}},
	{kyvernov1.KindPolicy, kyvernov1.Group, &kyvernov1.Policy{}, []string{"status", "spec.rules[*].verifyImages"}},
	{kyvernov1.KindClusterPolicy, kyvernov1.PortcullisGroup, &kyvernov1.Policy{}, []string{"status", "spec.rules[*].verifyImages"}},
	{kyvernov1.KindPolicy, kyvernov1.PortcullisGroup, &kyvernov1.Policy{}, []string{"status", "spec.rules[*].verifyImages"}},
	{policiesv1.KindValidatingPolicy, policiesv1.Group, &policiesv1.ValidatingPolicy{}, []string{"status"}},
	{policiesv1.KindGeneratingPolicy, policiesv1.Group, &policiesv1.GeneratingPolicy{}, []string{"status"}},
	{kindVAP, admissionGroup, &admissionregistrationv1.ValidatingAdmissionPolicy{}, nil},
	{kindVAPBinding, admissionGroup, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}, nil},
	{policiesv1.KindMutatingPolicy, policiesv1.Group, &policiesv1.MutatingPolicy{}, []string{"status"}},
	{kindMAP, admissionGroup, &admissionregistrationv1.MutatingAdmissionPolicy{}, nil},
	{kindMAPBinding, admissionGroup, &admissionregistrationv1.MutatingAdmissionPolicyBinding{}, nil},
	{kyvernov2.KindPolicyException, kyvernov2.Group, &kyvernov2.PolicyException{}, []string{"status"}},
	{policiesv1.KindPolicyException, policiesv1.Group, &policiesv1.PolicyException{}, []string{"status"}},
}

// checkSchema checks a policy document strictly against its Go type (see
// manifest.CheckFields): every unknown or mistyped field outside the
// free-form rule bodies is an error naming its path, with the nearest
// known name. Documents of other kinds are not checked here.
func checkSchema(d manifest.Document) Errors {
	group := strings.SplitN(d.APIVersion(), "/", 2)[0]
	for _, s := range schemas {
		if s.kind != d.Kind() || s.group != group {
			continue
		}
		var errs Errors
		for _, fe := range manifest.CheckFields(d.Object, s.typ, manifest.StrictOptions{Loose: s.loose}) {
			errs = append(errs, &Error{Policy: d.Name(), Rule: ruleAt(d.Object, fe.Path), Field: fe.Path, Msg: fe.Msg})
		}
		return errs
	}
	return nil
}

var ruleIndexRE = regexp.MustCompile(`^spec\.rules\[(\d+)\]`)

// ruleAt returns the name of the Kyverno rule a path is in, or "".
func ruleAt(obj map[string]any, path string) string {
	m := ruleIndexRE.FindStringSubmatch(path)
	if m == nil {
		return ""
	}
	i, _ := strconv.Atoi(m[1])
	spec, _ := obj["spec"].(map[string]any)
	rules, _ := spec["rules"].([]any)
	if i >= len(rules) {
		return ""
	}
	r, _ := rules[i].(map[string]any)
	name, _ := r["name"].(string)
	return name
}

func isPolicyKind(kind, group string) bool {
	switch group {
	case "kyverno.io", "policies.kyverno.io", "admissionregistration.k8s.io", "policy.sigstore.dev", "wgpolicyk8s.io":
	default:
		return false
	}
	return strings.HasSuffix(kind, "Policy") || strings.HasSuffix(kind, "PolicyBinding") || kind == "PolicyException"
}

// decodeStrict decodes obj into out; it reports unknown fields at the top
// of a rule and of its validate block, where typos are common.
func decodePolicy(obj map[string]any) (*kyvernov1.Policy, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var p kyvernov1.Policy
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
