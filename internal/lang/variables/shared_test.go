package variables

import (
	"reflect"
	"testing"
)

// countingSearcher counts the searches of each expression.
type countingSearcher struct{ n map[string]int }

func (s *countingSearcher) Search(expr string, data any) (any, error) {
	s.n[expr]++
	return forkSearcher{}.Search(expr, data)
}

// TestQuerySharedComputesOncePerDocument: QueryShared evaluates an
// expression once while the document is the same (across Checkpoint,
// Restore and Reset, as between the rules of one evaluation) and again
// whenever it changed, so a kept result is never stale.
func TestQuerySharedComputesOncePerDocument(t *testing.T) {
	const list = "request.object.spec.[initContainers, containers][]"
	s := &countingSearcher{n: map[string]int{}}
	c := NewContext(s)
	c.SetRequest(Request{Object: mustMap(t, `{"spec":{"containers":[{"name":"a"}],"initContainers":[{"name":"i"}]}}`)})
	want := mustJSON(t, `[{"name":"i"},{"name":"a"}]`)
	query := func(step string, wantSearches int) {
		t.Helper()
		got, err := c.QueryShared(list)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %v, want %v", step, got, want)
		}
		if s.n[list] != wantSearches {
			t.Fatalf("%s: %d searches, want %d", step, s.n[list], wantSearches)
		}
	}
	query("first", 1)
	query("again", 1)
	// Rules: a checkpoint each, loop variables, back to the checkpoint.
	for range 3 {
		c.Checkpoint()
		query("in a rule", 1)
		c.Checkpoint()
		c.SetElement("x", 0, 0)
		c.Reset()
		query("after Reset", 1)
		c.Restore()
		c.Restore()
		query("after Restore", 1)
	}
	// Loop variables are a new document (only the last one is kept).
	c.Checkpoint()
	c.SetElement("x", 0, 0)
	query("with an element set", 2)
	c.Restore()
	query("element undone", 3)
	// A context entry changes the document; so does a new request.
	c.Checkpoint()
	if err := c.Set("request.object.spec.containers", mustJSON(t, `[{"name":"b"}]`)); err != nil {
		t.Fatal(err)
	}
	want = mustJSON(t, `[{"name":"i"},{"name":"b"}]`)
	query("after Set", 4)
	c.Restore()
	want = mustJSON(t, `[{"name":"i"},{"name":"a"}]`)
	query("Set undone", 5)
	c.SetRequest(Request{Object: mustMap(t, `{"spec":{"containers":[{"name":"c"}]}}`)})
	want = mustJSON(t, `[{"name":"c"}]`)
	query("new request", 6)
	if err := c.Replace("request.object", mustMap(t, `{"spec":{"containers":[{"name":"d"}]}}`)); err != nil {
		t.Fatal(err)
	}
	want = mustJSON(t, `[{"name":"d"}]`)
	query("after Replace", 7)

	// Errors are not kept: the same failing query searches again.
	for i := range 2 {
		if _, err := c.QueryShared("request.object.nope.deeper"); err == nil {
			t.Fatalf("query %d of a missing key: no error", i)
		}
	}
	if got := s.n["request.object.nope.deeper"]; got != 2 {
		t.Fatalf("failing query searched %d times, want 2 (errors are not kept)", got)
	}
	if _, err := c.QueryShared(" "); err == nil {
		t.Fatal("empty query: no error")
	}
}

// TestQuerySharedImages: "images" is loaded into the document before the
// lookup, as by Query.
func TestQuerySharedImages(t *testing.T) {
	c := NewContext(forkSearcher{})
	c.SetRequest(Request{Object: mustMap(t, `{"kind":"Pod","spec":{"containers":[{"name":"a","image":"nginx:1.25"}]}}`)})
	for i := range 2 {
		got, err := c.QueryShared("images.containers.a.tag")
		if err != nil {
			t.Fatal(err)
		}
		if got != "1.25" {
			t.Fatalf("query %d: images.containers.a.tag = %v, want 1.25", i, got)
		}
	}
}
