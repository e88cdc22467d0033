package files_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/schema"
	"github.com/portcullis/portcullis/internal/source/files"
)

const teamPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team-label
spec:
  rules:
  - name: check-team
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "The label team is required."
      pattern:
        metadata:
          labels:
            team: "?*"
`

func compile(t *testing.T, src string) *policy.Set {
	t.Helper()
	docs, err := manifest.Decode("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Compile(docs, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// pod returns a Pod manifest; labelled pods carry the team label.
func pod(name string, labelled bool) string {
	labels := ""
	if labelled {
		labels = "\n  labels:\n    team: a"
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: ns%s\nspec:\n  containers:\n  - name: c\n    image: nginx\n", name, labels)
}

// pods returns n Pod documents; every third one lacks the team label.
func pods(t *testing.T, n int) files.Documents {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\n%s", pod(fmt.Sprintf("p%03d", i), i%3 != 0))
	}
	docs, err := manifest.Decode("pods.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != n {
		t.Fatalf("decoded %d pods, want %d", len(docs), n)
	}
	return docs
}

// collect is a sink recording outcomes in the order they arrive.
type collect struct{ outcomes []files.Outcome }

func (c *collect) Put(o files.Outcome) { c.outcomes = append(c.outcomes, o) }

func TestRunKeepsStreamOrder(t *testing.T) {
	t.Parallel()
	const n = 64
	docs := pods(t, n)
	// Item 0 is held back until every other item has built its input, so
	// all of them finish first and must wait to be delivered after it.
	var others atomic.Int64
	inputs := files.InputsFunc(func(d manifest.Document) engine.Input {
		if d.Name() == "p000" {
			deadline := time.Now().Add(10 * time.Second)
			for others.Load() < n-1 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		} else {
			others.Add(1)
		}
		return files.Env{}.Input(d)
	})
	var progress []int
	ev := &files.Evaluator{Engine: engine.New(), Set: compile(t, teamPolicy), Inputs: inputs, Workers: 4,
		Progress: func(done, total int) {
			if total != n {
				t.Errorf("progress total = %d, want %d", total, n)
			}
			progress = append(progress, done)
		}}
	var sink collect
	if err := ev.Run(context.Background(), docs, &sink); err != nil {
		t.Fatal(err)
	}
	if others.Load() != n-1 {
		t.Fatalf("%d other items built inputs, want %d", others.Load(), n-1)
	}
	if len(sink.outcomes) != n {
		t.Fatalf("sink got %d outcomes, want %d", len(sink.outcomes), n)
	}
	for i, o := range sink.outcomes {
		if o.Item != i || o.Document.Name() != docs[i].Name() {
			t.Fatalf("outcome %d is item %d (%s), want item %d (%s)", i, o.Item, o.Document.Name(), i, docs[i].Name())
		}
		want := engine.StatusPass
		if i%3 == 0 {
			want = engine.StatusFail
		}
		if len(o.Results) != 1 || o.Results[0].Status != want || o.Results[0].Resource.Name != docs[i].Name() {
			t.Fatalf("outcome %d results = %+v, want one %s for %s", i, o.Results, want, docs[i].Name())
		}
	}
	if want := seq(1, n); !slices.Equal(progress, want) {
		t.Fatalf("progress = %v, want 1..%d", progress, n)
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestRunChunks(t *testing.T) {
	t.Parallel()
	src := pod("a", true) + "---\n" + `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: b, namespace: ns}
- apiVersion: v1
  kind: Pod
  metadata: {name: c, namespace: ns, labels: {team: x}}
`
	chunks, err := manifest.Split("in.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	stream := files.Chunks(chunks)
	var sink collect
	ev := &files.Evaluator{Engine: engine.New(), Set: compile(t, teamPolicy)}
	if err := ev.Run(context.Background(), stream, &sink); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range sink.outcomes {
		got = append(got, fmt.Sprintf("%d:%s:%s", o.Item, o.Document.Name(), o.Results[0].Status))
	}
	if want := []string{"0:a:pass", "1:b:fail", "1:c:pass"}; !slices.Equal(got, want) {
		t.Fatalf("outcomes = %v, want %v (List items share their item)", got, want)
	}
	for i, c := range stream {
		if c.Data != nil {
			t.Errorf("chunk %d still holds its raw text after the run", i)
		}
	}
}

func TestRunReportsFailedItems(t *testing.T) {
	t.Parallel()
	src := pod("a", true) + "---\nkind: [unclosed\n---\napiVersion: v1\nmetadata: {name: nokind}\n---\n" + pod("d", false)
	chunks, err := manifest.Split("in.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var sink collect
	ev := &files.Evaluator{Engine: engine.New(), Set: compile(t, teamPolicy), Workers: 2}
	err = ev.Run(context.Background(), files.Chunks(chunks), &sink)
	var failed files.Errors
	if !errors.As(err, &failed) || len(failed) != 2 {
		t.Fatalf("error = %v, want two failed items", err)
	}
	var parseErr *manifest.ParseError
	if failed[0].Item != 1 || !errors.As(failed[0], &parseErr) || parseErr.Index != 2 {
		t.Errorf("first failure = %+v, want item 1 failing to parse", failed[0])
	}
	if failed[1].Item != 2 || !errors.Is(failed[1], files.ErrNoKind) || failed[1].Error() != "in.yaml:15: document has no kind" {
		t.Errorf("second failure = %q (item %d), want item 2 without a kind", failed[1], failed[1].Item)
	}
	if !strings.Contains(err.Error(), "in.yaml:13: invalid YAML") || !strings.Contains(err.Error(), "\nin.yaml:15: document has no kind") {
		t.Errorf("message = %q, want both failures, one a line", err)
	}
	var names []string
	for _, o := range sink.outcomes {
		names = append(names, o.Document.Name())
	}
	if !slices.Equal(names, []string{"a", "d"}) {
		t.Fatalf("delivered %v, want the items that evaluated (a, d)", names)
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	docs := pods(t, 200)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sink collect
	ev := &files.Evaluator{Engine: engine.New(), Set: compile(t, teamPolicy), Workers: 2}
	err := ev.Run(ctx, docs, files.SinkFunc(func(o files.Outcome) {
		sink.Put(o)
		if o.Item == 9 {
			cancel()
		}
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if len(sink.outcomes) < 10 || len(sink.outcomes) == len(docs) {
		t.Fatalf("sink got %d outcomes, want a prefix of at least 10 of %d", len(sink.outcomes), len(docs))
	}
	for i, o := range sink.outcomes {
		if o.Item != i {
			t.Fatalf("outcome %d is item %d: not a prefix", i, o.Item)
		}
	}
}

func TestEnvInput(t *testing.T) {
	t.Parallel()
	docs, err := manifest.Decode("in.yaml", []byte(`apiVersion: v1
kind: Namespace
metadata: {name: ns, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns, labels: {env: dev}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ns}
---
apiVersion: v1
kind: Pod
metadata: {name: q, namespace: other}
---
apiVersion: v1
metadata: {name: nokind-is-skipped}
`))
	if err != nil {
		t.Fatal(err)
	}
	store, err := files.Resources(docs)
	if err != nil {
		t.Fatalf("Resources: %v (documents without a kind are left out)", err)
	}
	env := files.Env{Namespaces: files.Namespaces(docs), Resources: store, UserInfo: engine.UserInfo{Username: "u"}}
	pod, other := docs[2], docs[3]
	cases := []struct {
		name     string
		op       string
		doc      manifest.Document
		resource bool
		old      bool
		labels   map[string]string
	}{
		{name: "create by default", doc: pod, resource: true, labels: map[string]string{"env": "dev"}},
		{name: "update has the old object", op: "UPDATE", doc: pod, resource: true, old: true, labels: map[string]string{"env": "dev"}},
		{name: "delete has only the old object", op: "DELETE", doc: pod, old: true, labels: map[string]string{"env": "dev"}},
		{name: "unknown namespace", doc: other, resource: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := env
			e.Operation = tc.op
			in := e.Input(tc.doc)
			if (in.Resource != nil) != tc.resource || (in.OldResource != nil) != tc.old || in.Operation != tc.op {
				t.Fatalf("input = resource %v, old %v, operation %q", in.Resource != nil, in.OldResource != nil, in.Operation)
			}
			if !maps.Equal(in.NamespaceLabels, tc.labels) || (tc.labels != nil) != (in.NamespaceObject != nil) {
				t.Fatalf("namespace labels = %v, object %v; want %v (the last Namespace of a name wins)", in.NamespaceLabels, in.NamespaceObject != nil, tc.labels)
			}
			if in.UserInfo.Username != "u" || in.Resources == nil {
				t.Fatalf("input lost the environment: %+v", in)
			}
		})
	}
	got, err := store.Get(context.Background(), "v1", "pods", "ns", "p")
	if err != nil || manifest.MetaString(got, "name") != "p" {
		t.Fatalf("store.Get(pods/ns/p) = %v, %v", got, err)
	}
}

// With SkipNonResources and a schema, the evaluator skips what is no
// resource, reports schema problems instead of evaluating, and marks kinds
// it has no schema for; a Raw text never reaches the sink.
func TestRunSkipsAndValidates(t *testing.T) {
	t.Parallel()
	text := pod("good", true) + "---\nreplicaCount: 1\n---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n---\n" +
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: typo\n  labels: {team: a}\nspec:\n  containerz: []\n---\n" +
		"apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: inlist}\n"
	chunks, err := manifest.Split("in.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ev := &files.Evaluator{Engine: engine.New(), Set: compile(t, teamPolicy), SkipNonResources: true, Schema: schema.New()}
	var c collect
	if err := ev.Run(context.Background(), files.Chunks(chunks), &c); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range c.outcomes {
		if o.Document.Raw != nil {
			t.Errorf("%s: the sink got the document's text", o.Document.Location())
		}
		s := o.Document.Location() + " "
		switch {
		case o.Skipped != "":
			s += "skipped: " + o.Skipped
		case o.Unvalidated:
			s += "unvalidated"
		}
		for _, r := range o.Results {
			s += fmt.Sprintf(" [%s %s %s %s]", r.Policy, r.Status, r.Path, r.Message)
		}
		got = append(got, s)
	}
	want := []string{
		"in.yaml:1  [require-team-label pass  validation rule 'check-team' passed.]",
		"in.yaml:13 skipped: no kind: not a Kubernetes resource",
		"in.yaml:15 skipped: kustomize configuration, not a resource (render it: kustomize build DIR | portcullis scan -)",
		"in.yaml:18  [kubernetes-schema fail /spec/containers in.yaml:23: spec.containers: required field is missing]" +
			" [kubernetes-schema fail /spec/containerz in.yaml:24: spec.containerz: unknown field; did you mean containers?]",
		"in.yaml:26 unvalidated",
		"in.yaml:33  [kubernetes-schema fail /spec in.yaml:33: spec: required field is missing]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("outcomes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// With Locate, schema problems are located like findings: each at the
	// line of its field.
	ev.Locate = true
	chunks, _ = manifest.Split("in.yaml", []byte(text))
	c = collect{}
	if err := ev.Run(context.Background(), files.Chunks(chunks), &c); err != nil {
		t.Fatal(err)
	}
	for _, o := range c.outcomes {
		if o.Document.Name() == "typo" && (o.Line != 18 || !slices.Equal(o.Lines, []int{23, 24})) {
			t.Errorf("schema problems of typo located at %d, %v; want 18, [23 24]", o.Line, o.Lines)
		}
	}
	// Without SkipNonResources a document without a kind is an error.
	ev.SkipNonResources = false
	chunks, _ = manifest.Split("in.yaml", []byte(text))
	var errs files.Errors
	if err := ev.Run(context.Background(), files.Chunks(chunks), &collect{}); !errors.As(err, &errs) || len(errs) != 1 || !errors.Is(errs[0], files.ErrNoKind) {
		t.Errorf("Run without SkipNonResources = %v", err)
	}
}

// TestSchemaProblemsInListItems checks that schema problems of the items
// of a List are reported at the lines of the items' fields, not at the
// List's first line, with and without Locate, nested Lists included.
func TestSchemaProblemsInListItems(t *testing.T) {
	t.Parallel()
	text := `# a List of two Pods and a nested List
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: fine, labels: {team: a}}
  spec:
    containers: [{name: c, image: nginx}]
- apiVersion: v1
  kind: Pod
  metadata:
    name: typo
  spec:
    containers:
    - name: c
      image: nginx
      imagePullPolicyy: Always
- apiVersion: v1
  kind: List
  items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: nested}
    spec:
      containerz: []
`
	for _, locate := range []bool{false, true} {
		chunks, err := manifest.Split("l.yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		ev := &files.Evaluator{Engine: engine.New(), Set: compile(t, teamPolicy), Schema: schema.New(), Locate: locate}
		var c collect
		if err := ev.Run(context.Background(), files.Chunks(chunks), &c); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range c.outcomes {
			s := fmt.Sprintf("%s line %d", o.Document.Location(), o.Line)
			for k, r := range o.Results {
				if r.Policy != files.SchemaPolicy {
					continue
				}
				s += " [" + r.Message
				if o.Lines != nil {
					s += fmt.Sprintf(" L%d", o.Lines[k])
				}
				s += "]"
			}
			got = append(got, s)
		}
		want := []string{
			"l.yaml:5 line 5",
			"l.yaml:10 line 10 [l.yaml:18: spec.containers[0].imagePullPolicyy: unknown field; did you mean imagePullPolicy?]",
			"l.yaml:22 line 22 [l.yaml:25: spec.containers: required field is missing] [l.yaml:26: spec.containerz: unknown field; did you mean containers?]",
		}
		if locate {
			want[1] = strings.Replace(want[1], "?]", "? L18]", 1)
			want[2] = "l.yaml:22 line 22 [l.yaml:25: spec.containers: required field is missing L25] [l.yaml:26: spec.containerz: unknown field; did you mean containers? L26]"
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("locate=%v:\n%s\nwant:\n%s", locate, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestSchemaResultsPointer(t *testing.T) {
	t.Parallel()
	doc := manifest.Document{Source: "-", Line: 3, Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}}}
	rs := files.SchemaResults(doc, []manifest.FieldError{
		{Path: "metadata.annotations.a/b~c", Msg: "want a string, got a number"},
		{Path: "spec.list[12].x", Msg: "m"},
		{Msg: "and 3 more schema problems"},
	})
	want := []string{"/metadata/annotations/a~1b~0c -:3: metadata.annotations.a/b~c: want a string, got a number",
		"/spec/list/12/x -:3: spec.list[12].x: m", " -:3: and 3 more schema problems"}
	for i, r := range rs {
		if got := r.Path + " " + r.Message; got != want[i] || r.Rule != "v1/ConfigMap" || r.Resource.Name != "c" {
			t.Errorf("result %d = %q (rule %s), want %q", i, got, r.Rule, want[i])
		}
	}
}

// TestRunLocate checks Evaluator.Locate: each finding names the line of
// its field in the file, in a plain document (after leading comments) and
// in an item of a List; documents without findings are not parsed again.
func TestRunLocate(t *testing.T) {
	t.Parallel()
	text := `apiVersion: v1
kind: Pod
metadata:
  name: labelled
  namespace: ns
  labels:
    team: a
---
# An unlabelled Pod, after a comment.
apiVersion: v1
kind: Pod
metadata:
  name: bare
  namespace: ns
spec: {}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: listed
    namespace: ns
`
	chunks, err := manifest.Split("pods.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ev := &files.Evaluator{Engine: engine.New(), Set: compile(t, teamPolicy), Locate: true}
	var got collect
	if err := ev.Run(context.Background(), files.Chunks(chunks), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		line  int
		lines []int
	}{
		"labelled": {line: 1},                    // passes: not located further
		"bare":     {line: 10, lines: []int{12}}, // the pattern fails at /metadata/labels/: its parent, metadata
		"listed":   {line: 20, lines: []int{22}}, // in the List: the item's line, its metadata
	}
	if len(got.outcomes) != len(want) {
		t.Fatalf("%d outcomes, want %d", len(got.outcomes), len(want))
	}
	for _, o := range got.outcomes {
		w := want[o.Document.Name()]
		if o.Line != w.line || !slices.Equal(o.Lines, w.lines) {
			t.Errorf("%s: line %d, lines %v; want %d, %v (results %+v)", o.Document.Name(), o.Line, o.Lines, w.line, w.lines, o.Results)
		}
		if o.Document.Raw != nil || o.Document.Item != nil {
			t.Errorf("%s: the document's text is still held after evaluation", o.Document.Name())
		}
	}
}
