package background

import (
	"iter"
	"unique"

	"github.com/portcullis/portcullis/internal/engine"
)

// ruleMeta is what every result of one rule shares, whatever the object.
type ruleMeta struct {
	PolicyKind, Policy, Rule, Severity, Category string
	// Control and Remediation are the control library's, per rule.
	Control, Remediation string
	Enforce, Autogen     bool
}

// stored is one result as an entry keeps it: a handle on the interned
// resultValue, 8 bytes. The same result about many objects (a rule that
// passes, or fails with the same message, on 10,000 Pods) is kept once:
// at 10,000 Pods and 20 rules the entries hold 1.6 MB of handles instead
// of 21 MB of values (104 bytes each). Handles compare as their values do.
type stored struct {
	h unique.Handle[resultValue]
}

// resultValue is what an entry keeps of one result: the rule's part
// interned and shared, the resource the entry's. unique.Make keeps its own
// copy of the strings of each distinct value. What the reports and gauges
// do not read (JSON patches, audit annotations) is not kept.
type resultValue struct {
	meta                         unique.Handle[ruleMeta]
	status                       engine.Status
	message, path, image, digest string
	// exceptions are the PolicyExceptions that exempted the rule.
	exceptions string
}

// pack returns results as entries keep them.
func pack(results []engine.Result) []stored {
	out := make([]stored, len(results))
	for i := range results {
		r := &results[i]
		out[i] = stored{unique.Make(resultValue{
			meta: unique.Make(ruleMeta{PolicyKind: r.PolicyKind, Policy: r.Policy, Rule: r.Rule, Severity: r.Severity,
				Category: r.Category, Control: r.Control, Remediation: r.Remediation, Enforce: r.Enforce, Autogen: r.Autogen}),
			status:     r.Status,
			message:    r.Message,
			path:       r.Path,
			image:      r.Image,
			digest:     r.Digest,
			exceptions: r.Exceptions,
		})}
	}
	return out
}

// value returns what s keeps.
func (s stored) value() resultValue { return s.h.Value() }

// status is the result's status.
func (s stored) status() engine.Status { return s.h.Value().status }

// meta is the rule's part of the result.
func (s stored) meta() ruleMeta { return s.h.Value().meta.Value() }

// result returns s as an engine.Result about res.
func (s stored) result(res engine.Resource) engine.Result {
	v := s.h.Value()
	m := v.meta.Value()
	return engine.Result{Policy: m.Policy, PolicyKind: m.PolicyKind, Rule: m.Rule, Resource: res, Status: v.status,
		Message: v.message, Path: v.path, Severity: m.Severity, Category: m.Category, Enforce: m.Enforce,
		Autogen: m.Autogen, Image: v.image, Digest: v.digest, Exceptions: v.exceptions,
		Control: m.Control, Remediation: m.Remediation}
}

// policyID is the policyID of the policy s is about.
func (s stored) policyID() string {
	m := s.meta()
	return policyID(m.PolicyKind, m.Policy)
}

// unpack returns ss as engine.Results about res.
func unpack(ss []stored, res engine.Resource) []engine.Result {
	out := make([]engine.Result, len(ss))
	for i, s := range ss {
		out[i] = s.result(res)
	}
	return out
}

// each gives ss as engine.Results about res, one at a time (a report
// build reads them so: policyreport.Entry.Results).
func each(ss []stored, res engine.Resource) iter.Seq[engine.Result] {
	return func(yield func(engine.Result) bool) {
		for _, s := range ss {
			if !yield(s.result(res)) {
				return
			}
		}
	}
}
