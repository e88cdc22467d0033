package policyreport

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	"github.com/portcullis/portcullis/internal/engine"
)

// draft is an Entry under construction, its results a slice a test may
// change before entry makes the Entry.
type draft struct {
	Entry
	rs []engine.Result
}

func newEntry(name string, statuses ...engine.Status) *draft {
	res := engine.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: name}
	d := &draft{Entry: Entry{Resource: res, UID: "uid-" + name, Since: time.Unix(1700000000, 0)}}
	for i, s := range statuses {
		d.rs = append(d.rs, engine.Result{Policy: "pss", PolicyKind: engine.KindClusterPolicy,
			Rule: "rule-" + string(rune('a'+i)), Resource: res, Status: s, Message: "m " + name, Path: "/spec/x",
			Severity: "High", Category: "Pod Security"})
	}
	return d
}

// entry is the Entry of d, its results given by slices.Values.
func (d *draft) entry() Entry {
	e := d.Entry
	e.Results = slices.Values(d.rs)
	return e
}

// entries are the Entries of ds.
func entries(ds ...*draft) []Entry {
	out := make([]Entry, len(ds))
	for i, d := range ds {
		out[i] = d.entry()
	}
	return out
}

func TestBuildListsNonPassesAndCountsAll(t *testing.T) {
	t.Parallel()
	reports := Build("ns", entries(
		newEntry("b", engine.StatusPass, engine.StatusFail),
		newEntry("a", engine.StatusPass, engine.StatusWarn, engine.StatusSkip, engine.StatusError),
	), Options{})
	if len(reports) != 1 {
		t.Fatalf("%d reports, want 1", len(reports))
	}
	r := reports[0]
	if r.Kind != v1alpha2.KindPolicyReport || r.Name != ReportName || r.Namespace != "ns" || r.Labels[ManagedByLabel] != ManagedBy {
		t.Fatalf("report identity = %s %s/%s %v", r.Kind, r.Namespace, r.Name, r.Labels)
	}
	if want := (v1alpha2.Summary{Pass: 2, Fail: 1, Warn: 1, Error: 1, Skip: 1}); r.Summary != want {
		t.Errorf("summary = %+v, want %+v", r.Summary, want)
	}
	var got []string
	for _, res := range r.Results {
		got = append(got, res.Resources[0].Name+":"+res.Result)
		if res.Result == v1alpha2.StatusPass {
			t.Errorf("pass listed without ReportPasses: %+v", res)
		}
	}
	if strings.Join(got, " ") != "a:warn a:error b:fail" {
		t.Errorf("listed = %v, want sorted by resource, failures, warnings and errors only", got)
	}
	f := r.Results[2]
	if f.Severity != "high" || f.Properties["path"] != "/spec/x" || f.Properties["policyKind"] != engine.KindClusterPolicy ||
		string(f.Resources[0].UID) != "uid-b" || f.Timestamp.Seconds != 1700000000 || f.Source != Source || !f.Scored {
		t.Errorf("fail result = %+v", f)
	}
	if all := Build("ns", entries(newEntry("a", engine.StatusPass, engine.StatusSkip)), Options{ReportPasses: true}); len(all[0].Results) != 2 {
		t.Errorf("ReportPasses did not list the pass: %+v", all[0].Results)
	}
}

func TestBuildClusterScopedAndEmpty(t *testing.T) {
	t.Parallel()
	if Build("", nil, Options{}) != nil {
		t.Error("no entries must give no report")
	}
	e := newEntry("node-reader", engine.StatusFail)
	e.Resource.Kind, e.Resource.Namespace = "ClusterRole", ""
	r := Build("", entries(e), Options{})
	if len(r) != 1 || r[0].Kind != v1alpha2.KindClusterPolicyReport || r[0].Name != ClusterReportName || r[0].Namespace != "" {
		t.Fatalf("cluster report = %+v", r)
	}
}

func TestBuildSeverityOutsideTheEnumGoesToProperties(t *testing.T) {
	t.Parallel()
	e := newEntry("a", engine.StatusFail)
	e.rs[0].Severity = "catastrophic"
	r := Build("ns", entries(e), Options{})[0].Results[0]
	// The CRD's enum would refuse the whole report otherwise.
	if r.Severity != "" || r.Properties["severity"] != "catastrophic" {
		t.Errorf("severity = %q, properties = %v", r.Severity, r.Properties)
	}
}

func TestBuildSplitsPastMaxBytes(t *testing.T) {
	t.Parallel()
	var es []Entry
	for i := range 50 {
		e := newEntry(strings.Repeat("x", 3)+string(rune('A'+i%26))+string(rune('a'+i/26)), engine.StatusFail, engine.StatusPass)
		e.rs[0].Message = strings.Repeat("long message ", 20) + e.Resource.Name // distinct: not grouped
		es = append(es, e.entry())
	}
	reports := Build("ns", es, Options{MaxBytes: 4096})
	if len(reports) < 3 {
		t.Fatalf("%d reports, want the namespace split", len(reports))
	}
	fails, passes := 0, 0
	for i, r := range reports {
		if i > 0 && r.Name != ReportName+"-"+string(rune('0'+i+1)) && !strings.HasPrefix(r.Name, ReportName+"-") {
			t.Errorf("report %d named %s", i, r.Name)
		}
		b, _ := json.Marshal(r.Results)
		if len(b) > 4096+600 { // one entry may overflow the bound it started under
			t.Errorf("report %s holds %d bytes of results", r.Name, len(b))
		}
		fails += r.Summary.Fail
		passes += r.Summary.Pass
		if r.Summary.Fail != len(r.Results) {
			t.Errorf("report %s: summary %+v for %d listed fails", r.Name, r.Summary, len(r.Results))
		}
	}
	if fails != 50 || passes != 50 {
		t.Errorf("split lost results: %d fails, %d passes", fails, passes)
	}
	if reports[1].Name != ReportName+"-2" {
		t.Errorf("second report = %s", reports[1].Name)
	}
}

func TestBuildIsStable(t *testing.T) {
	t.Parallel()
	a := Build("ns", entries(newEntry("a", engine.StatusFail), newEntry("b", engine.StatusWarn)), Options{})
	b := Build("ns", entries(newEntry("b", engine.StatusWarn), newEntry("a", engine.StatusFail)), Options{})
	if a[0].Annotations[HashAnnotation] != b[0].Annotations[HashAnnotation] {
		t.Error("the same results in another order give another hash: reports would churn")
	}
	c := Build("ns", entries(newEntry("a", engine.StatusPass), newEntry("b", engine.StatusWarn)), Options{})
	if a[0].Annotations[HashAnnotation] == c[0].Annotations[HashAnnotation] {
		t.Error("a changed result kept the hash: the report would not be rewritten")
	}
}

func TestBuildGroupsTheSameResultAcrossResources(t *testing.T) {
	t.Parallel()
	var es []Entry
	for i := range 1000 {
		e := newEntry(fmt.Sprintf("pod-%04d", i), engine.StatusFail, engine.StatusPass)
		e.rs[0].Message = "privileged containers are not allowed"
		e.Since = time.Unix(1700000000+int64(i), 0)
		es = append(es, e.entry())
	}
	odd := newEntry("odd", engine.StatusFail)
	odd.rs[0].Message = "something else"
	es = append(es, odd.entry())
	reports := Build("ns", es, Options{})
	if len(reports) != 1 {
		t.Fatalf("%d reports", len(reports))
	}
	r := reports[0]
	if len(r.Results) != 2 || len(r.Results[0].Resources)+len(r.Results[1].Resources) != 1001 {
		t.Fatalf("%d results, want 2 (one listing 1000 Pods)", len(r.Results))
	}
	if r.Summary.Fail != 1001 || r.Summary.Pass != 1000 {
		t.Errorf("summary = %+v", r.Summary)
	}
	var big v1alpha2.Result
	for _, res := range r.Results {
		if len(res.Resources) == 1000 {
			big = res
		}
	}
	if big.Timestamp.Seconds != 1700000999 {
		t.Errorf("grouped timestamp = %d, want the latest change", big.Timestamp.Seconds)
	}
	b, _ := json.Marshal(r)
	if len(b) > 200*1000 {
		t.Errorf("1000 Pods failing one rule take %d bytes", len(b))
	}
	// Seeding reads every resource of a grouped result back.
	u, err := toUnstructured(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := Failing(u.Object); len(got) != 1001 || got[0].UID == "" || got[0].Result.Policy != "pss" {
		t.Errorf("Failing read %d results (first %+v)", len(got), got[0])
	}
}

// TestBuildListsExemptedResults: a result a PolicyException exempted is
// listed even without ReportPasses, with the exceptions' names in the
// exceptions property, as Kyverno reports it.
func TestBuildListsExemptedResults(t *testing.T) {
	t.Parallel()
	e := newEntry("a", engine.StatusSkip, engine.StatusSkip)
	e.rs[0].Exceptions = "exceptions/allow-a, exceptions/allow-b"
	r := Build("ns", entries(e), Options{})[0]
	if len(r.Results) != 1 || r.Results[0].Rule != "rule-a" || r.Results[0].Result != v1alpha2.StatusSkip {
		t.Fatalf("listed = %+v, want the exempted skip only", r.Results)
	}
	if got := r.Results[0].Properties["exceptions"]; got != "allow-a,allow-b" {
		t.Errorf("exceptions property = %q, want allow-a,allow-b", got)
	}
	if r.Summary.Skip != 2 {
		t.Errorf("summary = %+v, want 2 skips", r.Summary)
	}
}

// TestBuildFromSequence: entries whose results a generator gives one at a
// time (as the background controller's interned results do) build the
// same reports as from slices; severities that differ in case only are
// one result, as the report writes them the same.
func TestBuildFromSequence(t *testing.T) {
	t.Parallel()
	var plain, seqs []Entry
	for i := range 40 {
		e := newEntry(fmt.Sprintf("pod-%02d", i), engine.StatusFail, engine.StatusPass, engine.StatusWarn)
		e.rs[0].Message = "privileged"
		if i%2 == 0 {
			e.rs[0].Severity = "high"
		}
		if i%5 == 0 {
			e.rs[2].Exceptions = "ns/allow-" + e.Resource.Name
		}
		plain = append(plain, e.entry())
		s := e.entry()
		rs := slices.Clone(e.rs)
		s.Results = func(yield func(engine.Result) bool) {
			for i := range rs {
				if !yield(rs[i]) {
					return
				}
			}
		}
		seqs = append(seqs, s)
	}
	a, b := Build("ns", plain, Options{MaxBytes: 8192}), Build("ns", seqs, Options{MaxBytes: 8192})
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("generator built\n%s\nslices built\n%s", jb, ja)
	}
	if len(a) < 2 {
		t.Fatalf("%d reports, want the namespace split", len(a))
	}
	fails := 0
	for _, r := range a {
		for _, res := range r.Results {
			if res.Result == v1alpha2.StatusFail {
				fails++
				if res.Severity != "high" {
					t.Errorf("severity %q", res.Severity)
				}
			}
		}
	}
	if fails != len(a) {
		t.Errorf("%d failing results in %d reports, want one per report (High and high are one)", fails, len(a))
	}
}
