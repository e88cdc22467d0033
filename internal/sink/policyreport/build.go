package policyreport

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
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
	// Results are every result of the resource's latest evaluation.
	Results []engine.Result
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
	for _, e := range sorted {
		listed, sum := convert(e, opts.ReportPasses)
		n := 0
		for i := range listed {
			n += refSize(&listed[i].Resources[0])
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
		for _, r := range listed {
			// Results that say the same thing about several resources are
			// one result listing them all: a violation common to a
			// thousand Pods is written once.
			k := groupKey(&r)
			i, ok := groups[k]
			if !ok {
				groups[k] = len(cur.Results)
				cur.Results = append(cur.Results, r)
				size += encodedSize(&r)
				continue
			}
			g := &cur.Results[i]
			g.Resources = append(g.Resources, r.Resources...)
			if r.Timestamp.Seconds > g.Timestamp.Seconds {
				g.Timestamp = r.Timestamp
			}
			size += refSize(&r.Resources[0])
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

// convert returns the listed results of e and the counts of all of them.
func convert(e Entry, passes bool) ([]v1alpha2.Result, v1alpha2.Summary) {
	var sum v1alpha2.Summary
	var out []v1alpha2.Result
	ref := corev1.ObjectReference{APIVersion: e.Resource.APIVersion, Kind: e.Resource.Kind,
		Namespace: e.Resource.Namespace, Name: e.Resource.Name, UID: types.UID(e.UID)}
	for _, r := range e.Results {
		count(&sum, r.Status)
		if (r.Status == engine.StatusPass || r.Status == engine.StatusSkip) && !passes && r.Exceptions == "" {
			// Results a PolicyException exempted are listed anyway: they
			// are the audit trail of the exceptions in use.
			continue
		}
		res := v1alpha2.Result{
			Source:    Source,
			Policy:    r.Policy,
			Rule:      r.Rule,
			Category:  r.Category,
			Timestamp: metav1.Timestamp{Seconds: e.Since.Unix()},
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
		out = append(out, res)
	}
	return out, sum
}

// severity maps a policy's severity to the report's enumeration (critical,
// high, medium, low, info); "" when it is none of them.
func severity(s string) string {
	switch s = strings.ToLower(strings.TrimSpace(s)); s {
	case "critical", "high", "medium", "low", "info":
		return s
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

// groupKey is what a result says, without the resource it is about and
// the time: each field length-prefixed, properties in key order.
func groupKey(r *v1alpha2.Result) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	field(r.Policy)
	field(r.Rule)
	field(r.Result)
	field(r.Message)
	field(r.Category)
	field(string(r.Severity))
	if r.Scored {
		b.WriteByte('1')
	} else {
		b.WriteByte('0')
	}
	for _, k := range slices.Sorted(maps.Keys(r.Properties)) {
		field(k)
		field(r.Properties[k])
	}
	return b.String()
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
