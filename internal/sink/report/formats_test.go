package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/net/html"
	"sigs.k8s.io/yaml"
)

// scriptName is a resource name carrying markup: every format must keep
// it as data.
const scriptName = "<script>alert(1)</script>"

// writeAll runs w over rs.
func writeAll(t *testing.T, w Writer, rs []*Resource) {
	t.Helper()
	for _, r := range rs {
		if err := w.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSARIFValidatesAgainstSchema validates SARIF logs, with Kyverno
// policies and with a control library's results, against the SARIF 2.1.0
// JSON schema (the OASIS file, vendored under testdata).
func TestSARIFValidatesAgainstSchema(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	const url = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	validate := func(t *testing.T, out []byte) map[string]any {
		t.Helper()
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if err := schema.Validate(inst); err != nil {
			t.Fatalf("SARIF log does not validate: %v\n%s", err, out)
		}
		var log map[string]any
		if err := json.Unmarshal(out, &log); err != nil {
			t.Fatal(err)
		}
		return log
	}
	t.Run("policies", func(t *testing.T) {
		var b bytes.Buffer
		writeAll(t, NewSARIFWriter(&b, NewScan(4, 5, catalog), Build{Name: "portcullis", Version: "test"}), resources())
		validate(t, b.Bytes())
	})
	t.Run("controls", func(t *testing.T) {
		s, rs := postureScan()
		rs[2].Results[0].Remediation = "Drop privileged."
		rs[2].Results[0].JSONPatch = `[{"op":"replace","path":"/spec/containers/0/securityContext/privileged","value":false}]`
		var b bytes.Buffer
		writeAll(t, NewSARIFWriter(&b, s, Build{Name: "portcullis", Version: "test"}), rs)
		log := validate(t, b.Bytes())
		run := log["runs"].([]any)[0].(map[string]any)
		rules := run["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any)
		if len(rules) != 4 {
			t.Fatalf("%d rules, want one per control: %v", len(rules), rules)
		}
		results := run["results"].([]any)
		if len(results) != 1 {
			t.Fatalf("%d results, want the one failure", len(results))
		}
		r := results[0].(map[string]any)
		idx := int(r["ruleIndex"].(float64))
		if r["ruleId"] != "C-1" || rules[idx].(map[string]any)["id"] != "C-1" {
			t.Errorf("result %v not listed under rule C-1", r)
		}
		if p := r["properties"].(map[string]any); p["fix"] == nil || p["remediation"] != "Drop privileged." {
			t.Errorf("properties %v lack the fix and remediation", p)
		}
		if r["fixes"] != nil {
			t.Errorf("fixes %v for a result without edits", r["fixes"])
		}
	})
	t.Run("fixes", func(t *testing.T) {
		// A Pod whose first container is privileged and whose second has
		// no securityContext; a Kubescape rule's fix paths for both.
		const pod = `apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  containers:
  - name: app
    image: nginx
    securityContext:
      privileged: true
  - name: side
    image: busybox
`
		patch := `[{"op":"add","path":"/spec/containers/0/securityContext/privileged","value":false},` +
			`{"op":"add","path":"/spec/containers/1/securityContext/privileged","value":false}]`
		edits, err := manifest.PatchEdits([]byte(pod), 4, "", patch)
		if err != nil {
			t.Fatal(err)
		}
		s, rs := postureScan()
		rs[2].Results[0].JSONPatch = patch
		rs[2].Fixes = [][]manifest.Edit{edits}
		var b bytes.Buffer
		writeAll(t, NewSARIFWriter(&b, s, Build{Name: "portcullis", Version: "test"}), rs)
		log := validate(t, b.Bytes())
		run := log["runs"].([]any)[0].(map[string]any)
		if run["columnKind"] != "unicodeCodePoints" {
			t.Errorf("columnKind %v", run["columnKind"])
		}
		r := run["results"].([]any)[0].(map[string]any)
		fixes, _ := r["fixes"].([]any)
		if len(fixes) != 1 {
			t.Fatalf("fixes %v, want one", r["fixes"])
		}
		fix := fixes[0].(map[string]any)
		if d := fix["description"].(map[string]any)["text"]; !strings.Contains(d.(string), "/spec/containers/0/securityContext/privileged to false") {
			t.Errorf("description %q", d)
		}
		changes := fix["artifactChanges"].([]any)
		ch := changes[0].(map[string]any)
		if uri := ch["artifactLocation"].(map[string]any)["uri"]; len(changes) != 1 || uri != "pods.yaml" {
			t.Fatalf("artifact changes %v", changes)
		}
		var got []string
		for _, x := range ch["replacements"].([]any) {
			x := x.(map[string]any)
			d := x["deletedRegion"].(map[string]any)
			text := ""
			if c, ok := x["insertedContent"].(map[string]any); ok {
				text = c["text"].(string)
			}
			got = append(got, fmt.Sprintf("%v:%v-%v:%v %q", d["startLine"], d["startColumn"], d["endLine"], d["endColumn"], text))
		}
		// privileged: true on line 13 (the document starts on line 4)
		// replaced in place; the second container's securityContext
		// inserted before its first key (line 14, column 5).
		want := []string{`13:19-13:23 "false"`, "14:5-14:5 \"securityContext:\\n      privileged: false\\n    \""}
		if !slices.Equal(got, want) {
			t.Errorf("replacements %q, want %q", got, want)
		}
	})
}

// junitSchema mirrors the JUnit XML schema's elements and attributes this
// report uses; decoding into it with encoding/xml checks the structure.
type junitSchema struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			ClassName string `xml:"classname,attr"`
			File      string `xml:"file,attr"`
			Line      int    `xml:"line,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnit(t *testing.T) {
	t.Parallel()
	s, rs := postureScan()
	var b bytes.Buffer
	writeAll(t, NewJUnitWriter(&b, s), rs)
	var doc junitSchema
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, b.String())
	}
	// C-1, C-2, C-3 (three Pods each) and C-4 (no resource).
	if len(doc.Suites) != 4 || doc.Tests != 9 || doc.Failures != 1 || doc.Skipped != 3 {
		t.Fatalf("suites %d tests %d failures %d skipped %d:\n%s", len(doc.Suites), doc.Tests, doc.Failures, doc.Skipped, b.String())
	}
	c1 := doc.Suites[0]
	if c1.Name != "C-1 Privileged container" || c1.Tests != 3 || c1.Failures != 1 {
		t.Fatalf("first suite %+v", c1)
	}
	var failed int
	for _, c := range c1.Cases {
		if c.ClassName != "C-1" || c.File != "pods.yaml" {
			t.Errorf("case %+v", c)
		}
		if c.Failure != nil {
			failed++
			if c.Name != "Pod/apps/"+scriptName || c.Failure.Type != "high" || !strings.Contains(c.Failure.Text, "remediation: Drop privileged.") {
				t.Errorf("failure %+v of %s", c.Failure, c.Name)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d failed cases", failed)
	}
	props := map[string]string{}
	for _, p := range c1.Properties {
		props[p.Name] = p.Value
	}
	if props["severity"] != "high" || props["frameworks"] != "nsa,mitre" || props["complianceScore"] != "66.7" {
		t.Errorf("properties %v", props)
	}
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	t.Parallel()
	s, rs := postureScan()
	var b bytes.Buffer
	writeAll(t, NewHTMLWriter(&b, s, Build{Name: "portcullis", Version: "test"}), rs)
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	ids := map[string]bool{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "link", "img", "iframe":
				t.Errorf("element <%s> in the page", n.Data)
			}
			for _, a := range n.Attr {
				if a.Key == "id" {
					ids[a.Val] = true
				}
				if (a.Key == "src" || a.Key == "href") && !strings.HasPrefix(a.Val, "#") {
					t.Errorf("external reference %s=%q", a.Key, a.Val)
				}
			}
		}
		if n.Type == html.TextNode {
			texts = append(texts, n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	all := strings.Join(texts, "|")
	for _, want := range []string{"Pod/apps/" + scriptName, "66.7%", "Drop privileged.", "Privileged container", "88.9%"} {
		if !strings.Contains(all, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	for _, id := range []string{"compliance", "frameworks", "controls", "C-1"} {
		if !ids[id] {
			t.Errorf("no element with id %q", id)
		}
	}
	// Controls come most severe first.
	if i, j := strings.Index(all, "C-1"), strings.Index(all, "C-2"); i < 0 || j < 0 || i > j {
		t.Errorf("controls not sorted by severity")
	}
}

func TestPolicyReportDecodesStrictly(t *testing.T) {
	t.Parallel()
	s := NewScan(4, 5, catalog)
	rs := resources()
	rs = append(rs, &Resource{File: "rbac.yaml", Line: 1, Document: 1, Results: []engineResult{
		res("restrict-wildcard-rbac", "wildcard-rules", "fail", "high", "", "Roles must not use *", ""),
	}})
	rs[2].Results[0].Resource = clusterRole("admin-all")
	var b bytes.Buffer
	writeAll(t, NewPolicyReportWriter(&b, s, false), rs)
	docs := strings.Split(b.String(), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("%d documents, want a ClusterPolicyReport and a PolicyReport:\n%s", len(docs), b.String())
	}
	var kinds []string
	fails := 0
	for _, d := range docs {
		var r v1alpha2.PolicyReport
		if err := yaml.UnmarshalStrict([]byte(d), &r); err != nil {
			t.Fatalf("%v\n%s", err, d)
		}
		if r.APIVersion != "wgpolicyk8s.io/v1alpha2" {
			t.Errorf("apiVersion %q", r.APIVersion)
		}
		kinds = append(kinds, r.Kind+"/"+r.Namespace)
		fails += r.Summary.Fail
	}
	if strings.Join(kinds, ",") != "ClusterPolicyReport/,PolicyReport/apps" || fails != 4 {
		t.Errorf("reports %v with %d failures", kinds, fails)
	}
}

type engineResult = engine.Result

func clusterRole(name string) engine.Resource {
	return engine.Resource{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: name}
}
