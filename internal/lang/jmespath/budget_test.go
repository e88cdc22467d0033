package jmespath

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gojmespath "github.com/kyverno/go-jmespath"
)

// hostile doubles its input 40 times with multi-selects and flattens
// (2^40 elements), inside a projection over a list.
var hostile = "items[*].[@, @][]" + strings.Repeat(".[@, @][]", 40)

func hostileData() map[string]any {
	items := make([]any, 1000)
	for i := range items {
		items[i] = map[string]any{"name": "x"}
	}
	return map[string]any{"items": items}
}

// TestCostBudget: without a deadline, a hostile expression stops at the
// cost budget, with an error, long before it exhausts memory.
func TestCostBudget(t *testing.T) {
	t.Parallel()
	in := New(WithMaxCost(1_000_000))
	start := time.Now()
	_, err := in.Search(hostile, hostileData())
	if !errors.Is(err, ErrCostExceeded) {
		t.Fatalf("err = %v, want ErrCostExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopped after %v", d)
	}
	// Ordinary queries are unaffected, with or without checkpoints.
	for expr, want := range map[string]string{
		"items[*].name | length(@)":            "1000",
		"length(items[?name == 'x'])":          "1000",
		"items[0].name":                        "x",
		"length([items, items][])":             "2000",
		"sort_by(items, &name)[0].name":        "x",
		"items[*].missing || 'none'":           "none",
		"join(',', items[:2].name)":            "x,x",
		"max_by(items[*].{n: name}, &n).n":     "x",
		"values({a: items[0].name})[0]":        "x",
		"not_null(missing, items[1].name)":     "x",
		"to_string(length(items[*].[@, @][]))": "2000",
	} {
		got, err := in.Search(expr, hostileData())
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if s := fmt.Sprint(got); s != want {
			t.Errorf("%s = %s, want %s", expr, s, want)
		}
		// The same as the library's own evaluation, without checkpoints.
		q, _ := in.Compile(expr)
		plain, err := gojmespath.NewInterpreter().Execute(q.ast, hostileData(), q.opt)
		if err != nil || fmt.Sprint(plain) != fmt.Sprint(got) {
			t.Errorf("%s: library gives %v, %v; with checkpoints %v", expr, plain, err, got)
		}
	}
	// A missing key is still reported as such through checkpoints.
	if _, err := in.Search("items[0].missing", hostileData()); !IsNotFound(err) {
		t.Errorf("missing key: err = %v, want NotFoundError", err)
	}
}

// TestSearchContextDeadline: with a budget too large to matter, the
// request's deadline stops a hostile expression at once.
func TestSearchContextDeadline(t *testing.T) {
	t.Parallel()
	in := New(WithMaxCost(1 << 62))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := in.SearchContext(ctx, hostile, hostileData())
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if elapsed > time.Second {
		t.Errorf("ran %v past a 200 ms deadline", elapsed)
	}
	// An ended context stops even a cheap query with checkpoints.
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := in.SearchContext(done, "items[*].name", hostileData()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}
