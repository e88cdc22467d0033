package policyreport

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	"github.com/portcullis/portcullis/internal/engine"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Names, labels and annotations of the reports Portcullis writes.
const (
	// ReportName is the namespaced report; the reports it is split into
	// past Options.MaxBytes are ReportName-2, ReportName-3, ...
	ReportName = "portcullis-policy-report"
	// ClusterReportName is the cluster-scoped report (split the same way).
	ClusterReportName = "portcullis-cluster-policy-report"
	// ManagedByLabel marks the reports Portcullis owns; only those are
	// updated or deleted.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "portcullis"
	// HashAnnotation holds the hash of a report's summary and results: a
	// report whose hash did not change is not written again.
	HashAnnotation = "portcullis.dev/content-hash"
	// DefaultMaxBytes bounds the encoded results of one report.
	DefaultMaxBytes = 1 << 20
	// Source names Portcullis in every result.
	Source = "portcullis"
)

// Entry is the current results of one resource.
type Entry struct {
	Resource engine.Resource
	UID      string
	// Results gives every result of the resource's latest evaluation
	// (slices.Values of a slice, or a caller's own form: the background
	// controller's interned results are unpacked one entry at a time, as
	// Build reads them, not a namespace's at once).
	Results iter.Seq[engine.Result]
	// Since is when Results last changed: the timestamp of the listed
	// results.
	Since time.Time
}

// Options tune Build.
type Options struct {
	// ReportPasses lists passing and skipped results too (the summary
	// counts them either way).
	ReportPasses bool
	// MaxBytes bounds the encoded results of one report (default
	// DefaultMaxBytes); past it the namespace's report is split.
	MaxBytes int
}

// Build returns the reports of namespace ("" for cluster-scoped resources)
// from the entries of that namespace, in name order: none when there are
// no entries. Results saying the same thing (policy, rule, outcome,
// message, properties) about several resources are one result listing
// them, in kind, name and uid order; an entry's results always go to one
// report.
func Build(namespace string, entries []Entry, opts Options) []*v1alpha2.PolicyReport {
	if len(entries) == 0 {
		return nil
	}
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Resource.Kind, b.Resource.Kind), cmp.Compare(a.Resource.Name, b.Resource.Name),
			cmp.Compare(a.Resource.APIVersion, b.Resource.APIVersion), cmp.Compare(a.UID, b.UID))
	})
	var out []*v1alpha2.PolicyReport
	cur := newReport(namespace, 0)
	var groups map[string]int // result key -> index in cur.Results
	size := 0
	// One entry's results and one key at a time: a result that joins a
	// group costs its reference only, not a report result of its own.
	var results []engine.Result
	var k []byte
	for _, e := range sorted {
		results = e.results(results[:0])
		ref := corev1.ObjectReference{APIVersion: e.Resource.APIVersion, Kind: e.Resource.Kind,
			Namespace: e.Resource.Namespace, Name: e.Resource.Name, UID: types.UID(e.UID)}
		var sum v1alpha2.Summary
		n := 0
		for i := range results {
			count(&sum, results[i].Status)
			if listed(&results[i], opts.ReportPasses) {
				n += refSize(&ref)
			}
		}
		if size > 0 && size+n > maxBytes {
			out = append(out, cur)
			cur = newReport(namespace, len(out))
			groups = nil
			size = 0
		}
		if groups == nil {
			groups = map[string]int{}
		}
		for i := range results {
			r := &results[i]
			if !listed(r, opts.ReportPasses) {
				continue
			}
			// Results that say the same thing about several resources are
			// one result listing them all: a violation common to a
			// thousand Pods is written once.
			k = groupKey(k[:0], r)
			if gi, ok := groups[string(k)]; ok {
				g := &cur.Results[gi]
				g.Resources = append(g.Resources, ref)
				g.Timestamp.Seconds = max(g.Timestamp.Seconds, e.Since.Unix())
				size += refSize(&ref)
				continue
			}
			res := convert(r, ref, e.Since)
			groups[string(k)] = len(cur.Results)
			cur.Results = append(cur.Results, res)
			size += encodedSize(&res)
		}
		add(&cur.Summary, sum)
	}
	out = append(out, cur)
	for _, r := range out {
		r.Annotations = map[string]string{HashAnnotation: contentHash(r)}
	}
	return out
}

func newReport(namespace string, index int) *v1alpha2.PolicyReport {
	kind, name := v1alpha2.KindPolicyReport, ReportName
	if namespace == "" {
		kind, name = v1alpha2.KindClusterPolicyReport, ClusterReportName
	}
	if index > 0 {
		name += "-" + strconv.Itoa(index+1)
	}
	return &v1alpha2.PolicyReport{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha2.APIVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{ManagedByLabel: ManagedBy}},
	}
}

// results returns e's results, appended to buf.
func (e *Entry) results(buf []engine.Result) []engine.Result {
	if e.Results == nil {
		return buf
	}
	for r := range e.Results {
		buf = append(buf, r)
	}
	return buf
}

// listed says whether r is listed in a report (all results are counted):
// not passes and skips unless passes, but always what a PolicyException
// exempted (the audit trail of the exceptions in use).
func listed(r *engine.Result, passes bool) bool {
	return passes || r.Exceptions != "" || (r.Status != engine.StatusPass && r.Status != engine.StatusSkip)
}

// convert returns r as a report's result about ref.
func convert(r *engine.Result, ref corev1.ObjectReference, since time.Time) v1alpha2.Result {
	res := v1alpha2.Result{
		Source:    Source,
		Policy:    r.Policy,
		Rule:      r.Rule,
		Category:  r.Category,
		Timestamp: metav1.Timestamp{Seconds: since.Unix()},
		Result:    string(r.Status),
		Scored:    r.Status != engine.StatusWarn,
		Resources: []corev1.ObjectReference{ref},
		Message:   r.Message,
	}
	props := map[string]string{}
	if sev := severity(r.Severity); sev != "" {
		res.Severity = sev
	} else if r.Severity != "" {
		props["severity"] = r.Severity
	}
	for k, v := range map[string]string{"path": r.Path, "policyKind": r.PolicyKind, "image": r.Image, "digest": r.Digest} {
		if v != "" {
			props[k] = v
		}
	}
	if r.Exceptions != "" {
		props["exceptions"] = exceptionNames(r.Exceptions)
	}
	if len(props) > 0 {
		res.Properties = props
	}
	return res
}

// severity maps a policy's severity to the report's enumeration (critical,
// high, medium, low, info); "" when it is none of them.
func severity(s string) string {
	s = strings.TrimSpace(s)
	for _, v := range [...]string{"critical", "high", "medium", "low", "info"} {
		if strings.EqualFold(s, v) {
			return v
		}
	}
	return ""
}

func count(s *v1alpha2.Summary, st engine.Status) {
	switch st {
	case engine.StatusPass:
		s.Pass++
	case engine.StatusFail:
		s.Fail++
	case engine.StatusWarn:
		s.Warn++
	case engine.StatusError:
		s.Error++
	case engine.StatusSkip:
		s.Skip++
	}
}

func add(s *v1alpha2.Summary, o v1alpha2.Summary) {
	s.Pass += o.Pass
	s.Fail += o.Fail
	s.Warn += o.Warn
	s.Error += o.Error
	s.Skip += o.Skip
}

// groupKey appends to b what r says as a report's result (convert),
// without the resource it is about and the time: each field
// length-prefixed, with the severity and exceptions as the report gives
// them. Results with equal keys convert to equal report results.
func groupKey(b []byte, r *engine.Result) []byte {
	field := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	field(r.Policy)
	field(r.Rule)
	field(string(r.Status))
	field(r.Message)
	field(r.Category)
	if sev := severity(r.Severity); sev != "" {
		field(sev)
		field("")
	} else {
		field("")
		field(r.Severity)
	}
	field(r.Path)
	field(r.PolicyKind)
	field(r.Image)
	field(r.Digest)
	if r.Exceptions != "" {
		field(exceptionNames(r.Exceptions))
	} else {
		field("")
	}
	return b
}

func refSize(r *corev1.ObjectReference) int {
	return len(r.APIVersion) + len(r.Kind) + len(r.Namespace) + len(r.Name) + len(r.UID) + 60
}

func encodedSize(r *v1alpha2.Result) int {
	b, err := json.Marshal(r)
	if err != nil {
		return 0
	}
	return len(b) + 1
}

// contentHash is the hash of what a report says (summary and results).
func contentHash(r *v1alpha2.PolicyReport) string {
	b, _ := json.Marshal(struct {
		S v1alpha2.Summary
		R []v1alpha2.Result
	}{r.Summary, r.Results})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// exceptionNames turns Result.Exceptions ("ns/a, ns/b") into the names
// Kyverno lists in a result's exceptions property ("a,b").
func exceptionNames(keys string) string {
	parts := strings.Split(keys, ", ")
	for i, k := range parts {
		if j := strings.LastIndexByte(k, '/'); j >= 0 {
			parts[i] = k[j+1:]
		}
	}
	return strings.Join(parts, ",")
}
