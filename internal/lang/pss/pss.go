package pss

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// Exclusion is one entry of a podSecurity rule's exclude list (Kyverno's
// PodSecurityStandard).
type Exclusion struct {
	// ControlName is the Pod Security Standards control, e.g. "Capabilities".
	ControlName string
	// Images are image patterns ('*' and '?' wildcards) selecting the
	// containers the exclusion applies to. Empty means the pod-level fields.
	Images []string
	// RestrictedField selects one field of the control, with "[*]" for list
	// indexes, e.g. "spec.containers[*].securityContext.capabilities.add".
	// Empty selects every field of the control.
	RestrictedField string
	// Values are patterns ('*' and '?' wildcards) of the offending values that
	// are exempted; required when RestrictedField is set.
	Values []string
}

// Spec is the body of a validate.podSecurity rule.
type Spec struct {
	// Level is "privileged", "baseline" or "restricted".
	Level string
	// Version is "latest" or "v1.N"; empty means "latest".
	Version string
	// Exclude lists the exempted controls.
	Exclude []Exclusion
}

// Failure is one failed Pod Security Standards check that no exclusion exempted.
type Failure struct {
	// ControlName is the Kyverno control name of the check, e.g. "Seccomp".
	ControlName string
	// CheckID is the pod-security-admission check ID, e.g. "seccompProfile_restricted".
	CheckID string
	// Reason and Detail are the ForbiddenReason and ForbiddenDetail of the
	// official check.
	Reason, Detail string
	// Fields are the offending field paths still failing, relative to the
	// evaluated resource (e.g. "spec.template.spec.containers[0].securityContext.privileged"
	// for a Deployment).
	Fields []string
	// Images are the images of the containers named in Fields, de-duplicated.
	Images []string

	errs []fieldErr
}

// Result is the outcome of evaluating one resource.
type Result struct {
	// Allowed is true when no check failed (after exclusions).
	Allowed bool
	// Failures are the failed checks in evaluation order; a check may appear
	// once per applicable variant when an explicit version is used.
	Failures []Failure

	kind string
}

// compiledCheck is one variant of one official check selected by the spec.
type compiledCheck struct {
	id      string
	control string
	run     policy.CheckPodFn
	fields  fieldFunc
}

// compiledExclusion is a validated exclusion.
type compiledExclusion struct {
	Exclusion
	checkIDs []string
}

// Checker evaluates resources against one compiled podSecurity spec. It is
// immutable and safe for concurrent use.
type Checker struct {
	checks   []compiledCheck
	excludes []compiledExclusion
}

// Compile validates s and selects the checks to run.
//
// Level must be one of privileged, baseline, restricted; Version must be empty,
// "latest" or "v1.N". Every exclusion must name a known control; container-level
// controls (Capabilities, Privileged Containers, Host Ports, /proc Mount Type,
// Privilege Escalation) require images, pod-level controls (Host Namespaces,
// HostPath Volumes, Sysctls, AppArmor, Volume Types) forbid them; restricted-only
// controls are invalid in a baseline rule; restrictedField and values must be
// given together and restrictedField must be a field of the control. Errors name
// the offending exclusion index and field.
func Compile(s Spec) (*Checker, error) {
	if s.Level == "" {
		return nil, errors.New("podSecurity.level is required")
	}
	level, err := api.ParseLevel(s.Level)
	if err != nil {
		return nil, fmt.Errorf("podSecurity.level %q: %w", s.Level, err)
	}
	version := api.LatestVersion()
	if s.Version != "" && s.Version != "latest" {
		v, err := api.ParseVersion(s.Version)
		if err != nil {
			return nil, fmt.Errorf("podSecurity.version %q: %w", s.Version, err)
		}
		version = api.MajorMinorVersion(v.Major(), v.Minor())
	}
	c := &Checker{checks: selectChecks(level, version)}
	for i, ex := range s.Exclude {
		ce, err := compileExclusion(level, ex)
		if err != nil {
			return nil, fmt.Errorf("podSecurity.exclude[%d].%w", i, err)
		}
		c.excludes = append(c.excludes, ce)
	}
	return c, nil
}

// selectChecks picks the check variants Kyverno runs for level and version.
func selectChecks(level api.Level, version api.Version) []compiledCheck {
	var out []compiledCheck
	for _, check := range policy.DefaultChecks() {
		if level == api.LevelBaseline && check.Level != api.LevelBaseline {
			continue
		}
		if len(check.Versions) == 0 {
			continue
		}
		id := string(check.ID)
		add := func(vc policy.VersionedCheck) {
			out = append(out, compiledCheck{
				id:      id,
				control: controlOfCheck[id],
				run:     vc.CheckPod,
				fields:  fieldsFor(id, vc.MinimumVersion),
			})
		}
		if version.Latest() {
			newest := check.Versions[0]
			for _, vc := range check.Versions[1:] {
				if !vc.MinimumVersion.Older(newest.MinimumVersion) {
					newest = vc
				}
			}
			add(newest)
			continue
		}
		for _, vc := range check.Versions {
			if !version.Older(vc.MinimumVersion) {
				add(vc)
			}
		}
	}
	return out
}

func compileExclusion(level api.Level, ex Exclusion) (compiledExclusion, error) {
	info, ok := controls[ex.ControlName]
	if !ok {
		return compiledExclusion{}, fmt.Errorf("controlName: unknown control %q, must be one of %s", ex.ControlName, controlNames)
	}
	switch {
	case info.scope == scopeContainer && len(ex.Images) == 0:
		return compiledExclusion{}, fmt.Errorf("images: required for the container-level control %q", ex.ControlName)
	case info.scope == scopePod && len(ex.Images) != 0:
		return compiledExclusion{}, fmt.Errorf("images: not allowed for the pod-level control %q", ex.ControlName)
	case level == api.LevelBaseline && info.restrictedOnly:
		return compiledExclusion{}, fmt.Errorf("controlName: control %q is not part of the baseline level", ex.ControlName)
	case ex.RestrictedField != "" && len(ex.Values) == 0:
		return compiledExclusion{}, errors.New("values: required when restrictedField is set")
	case ex.RestrictedField == "" && len(ex.Values) != 0:
		return compiledExclusion{}, errors.New("restrictedField: required when values are set")
	case ex.RestrictedField != "" && !info.validField(ex.RestrictedField):
		return compiledExclusion{}, fmt.Errorf("restrictedField: %q is not a field of control %q, must be one of %q",
			ex.RestrictedField, ex.ControlName, info.fields)
	}
	ce := compiledExclusion{Exclusion: ex, checkIDs: info.checks}
	ce.Images = append([]string(nil), ex.Images...)
	ce.Values = append([]string(nil), ex.Values...)
	return ce, nil
}

// Evaluate checks one resource: a Pod, or a pod controller (Deployment,
// ReplicaSet, DaemonSet, StatefulSet, Job, ReplicationController: the pod
// template at spec.template; CronJob: spec.jobTemplate.spec.template.spec with
// the metadata of spec.jobTemplate, as Kyverno does). It returns whether the
// resource passes and, when not, the failed checks left after exclusions.
// Any other kind, or a resource whose pod template does not decode into a
// PodSpec / ObjectMeta, is an error. The input is not modified.
func (c *Checker) Evaluate(resource map[string]any) (Result, error) {
	if resource == nil {
		return Result{}, errors.New("resource is nil")
	}
	kind, pod, err := extractPod(resource)
	if err != nil {
		return Result{}, err
	}
	results := c.run(pod)
	if len(results) > 0 && len(c.excludes) > 0 {
		results = c.applyExclusions(pod, results)
	}
	res := Result{Allowed: len(results) == 0, kind: kind}
	for _, r := range results {
		res.Failures = append(res.Failures, r.failure(kind))
	}
	return res, nil
}

// checkResult is a failed check variant with its offending fields.
type checkResult struct {
	check  *compiledCheck
	reason string
	detail string
	errs   []fieldErr
}

// run evaluates every selected check variant on pod and returns the failures.
func (c *Checker) run(pod *corev1.Pod) []checkResult {
	var out []checkResult
	for i := range c.checks {
		chk := &c.checks[i]
		r := chk.run(&pod.ObjectMeta, &pod.Spec)
		if r.Allowed {
			continue
		}
		cr := checkResult{check: chk, reason: r.ForbiddenReason, detail: r.ForbiddenDetail}
		if chk.fields != nil {
			cr.errs = chk.fields(&pod.ObjectMeta, &pod.Spec)
		}
		out = append(out, cr)
	}
	return out
}

func (r checkResult) failure(kind string) Failure {
	f := Failure{
		ControlName: r.check.control,
		CheckID:     r.check.id,
		Reason:      r.reason,
		Detail:      r.detail,
		errs:        r.errs,
	}
	for _, e := range r.errs {
		f.Fields = append(f.Fields, resourcePath(kind, e.path))
		if e.kind != 0 && e.image != "" && !contains(f.Images, e.image) {
			f.Images = append(f.Images, e.image)
		}
	}
	return f
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Message formats the result the way Kyverno words a podSecurity rule
// response: "Validation rule '<rule>' passed." when allowed, otherwise
// `Validation rule '<rule>' failed. It violates PodSecurity "<level>:<version>": `
// followed by "(Forbidden reason: <reason>, field error list: [<errors>])" per
// failure. Level and version are printed as written in s. Field paths are
// rewritten for pod controllers exactly as Kyverno does.
func (r Result) Message(ruleName string, s Spec) string {
	if r.Allowed {
		return fmt.Sprintf("Validation rule '%s' passed.", ruleName)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Validation rule '%s' failed. It violates PodSecurity "%s:%s": `, ruleName, s.Level, s.Version)
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "(Forbidden reason: %s, field error list: [", f.Reason)
		for i, e := range f.errs {
			if i > 0 {
				b.WriteString(", ")
			}
			path := kyvernoMessagePath(r.kind, e.path)
			switch {
			case e.required:
				b.WriteString(path + ": Required value")
			case e.bad == "":
				b.WriteString(path + ": Forbidden")
			default:
				fmt.Fprintf(&b, "%s is forbidden, forbidden values found: %+v", path, e.bad)
			}
		}
		b.WriteString("])")
	}
	return b.String()
}
