package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
)

// BenchmarkMutatingPolicies measures the mutating handler on a Pod: one
// MutatingPolicy with JSON patches and one with an apply configuration
// (structured merge diff on the Pod schema), chained.
func BenchmarkMutatingPolicies(b *testing.B) {
	set, err := policy.LoadBytes("bench.yaml", []byte(fmt.Sprintf(mpolChain, "Fail")), policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Resource: mpolPod(nil, float64(1)), Operation: "CREATE"}
	req := newRequest(in.Resource, &in)
	cin := celInput(&in, req)
	e := New()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		results, _ := e.evalMutatingPolicies(ctx, set, &in, req, &cin)
		if len(results) != 2 || results[1].Status != StatusPass {
			b.Fatalf("results = %+v", results)
		}
	}
}
