package conditions

import "testing"

func BenchmarkEvaluate(b *testing.B) {
	conds := []Condition{
		{Key: "CREATE", Operator: "NotEquals", Value: "DELETE"},
		{Key: "kube-system", Operator: "AnyIn", Value: []any{"default", "kube-*", "kyverno"}},
		{Key: []any{"NET_RAW", "SETUID"}, Operator: "AnyNotIn", Value: []any{"ALL", "NET_RAW"}},
		{Key: "1Gi", Operator: "GreaterThan", Value: "512Mi"},
		{Key: 3.0, Operator: "GreaterThanOrEquals", Value: 3.0},
		{Key: []any{5001.0, 80.0}, Operator: "AnyNotIn", Value: "5000-6000"},
	}
	// Every condition holds: checked once, before timing.
	for i := range conds {
		if ok, err := Evaluate(conds[i]); err != nil || !ok {
			b.Fatalf("%+v = %v, %v; want true", conds[i], ok, err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range conds {
			if _, err := Evaluate(conds[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkEvaluateBlock(b *testing.B) {
	blk := Block{
		Any: []Condition{
			{Key: "UPDATE", Operator: "Equals", Value: "CREATE"},
			{Key: "UPDATE", Operator: "Equals", Value: "UPDATE"},
		},
		All: []Condition{
			{Key: "team-a", Operator: "AnyNotIn", Value: []any{"kube-system", "kyverno"}},
			{Key: 2.0, Operator: "LessThan", Value: 5.0},
		},
	}
	// One of Any and all of All hold: checked once, before timing.
	if ok, msg, err := EvaluateBlock(blk); err != nil || !ok {
		b.Fatalf("EvaluateBlock = %v, %q, %v; want true", ok, msg, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := EvaluateBlock(blk); err != nil {
			b.Fatal(err)
		}
	}
}
