package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/portcullis/portcullis/internal/sink/policyreport"
	"sigs.k8s.io/yaml"
)

// PolicyReportWriter writes a scan as wgpolicyk8s.io/v1alpha2 reports in
// YAML, the documents `serve` keeps in the cluster (built by
// policyreport.Build): a PolicyReport per namespace and a
// ClusterPolicyReport for cluster-scoped resources (and resources of
// manifests without a namespace), separated by "---". Failures, warnings
// and errors are listed (all results with all); the summaries count
// everything. It is written on Close: the results are kept until then.
type PolicyReportWriter struct {
	w    *bufio.Writer
	scan *Scan
	all  bool
	now  time.Time
	byNS map[string][]policyreport.Entry
}

var _ Writer = (*PolicyReportWriter)(nil)

// NewPolicyReportWriter returns a writer of the reports on w, counting
// into scan; all lists passing and skipped results too.
func NewPolicyReportWriter(w io.Writer, scan *Scan, all bool) *PolicyReportWriter {
	return &PolicyReportWriter{w: bufio.NewWriterSize(w, 64<<10), scan: scan, all: all, now: time.Now(),
		byNS: map[string][]policyreport.Entry{}}
}

// Put implements Writer.
func (p *PolicyReportWriter) Put(r *Resource) error {
	p.scan.Add(r)
	if len(r.Results) == 0 {
		return nil
	}
	res := r.Results[0].Resource
	p.byNS[res.Namespace] = append(p.byNS[res.Namespace], policyreport.Entry{Resource: res, Results: slices.Values(r.Results), Since: p.now})
	return nil
}

// Flush implements Writer; nothing is written before Close.
func (p *PolicyReportWriter) Flush() error { return nil }

// Close implements Writer: it writes the reports, cluster report first,
// then the namespaces in name order.
func (p *PolicyReportWriter) Close() error {
	namespaces := make([]string, 0, len(p.byNS))
	for ns := range p.byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	n := 0
	for _, ns := range namespaces {
		for _, rep := range policyreport.Build(ns, p.byNS[ns], policyreport.Options{ReportPasses: p.all}) {
			b, err := yaml.Marshal(rep)
			if err != nil {
				return fmt.Errorf("encode %s %s: %w", rep.Kind, rep.Name, err)
			}
			if n > 0 {
				if _, err := io.WriteString(p.w, "---\n"); err != nil {
					return err
				}
			}
			if _, err := p.w.Write(b); err != nil {
				return err
			}
			n++
		}
	}
	return p.w.Flush()
}
