package attest

import (
	"testing"
)

// BenchmarkEvaluate measures one evaluation of equivalent policies on the
// SLSA v1 statement. The statement is decoded once, as the admission path
// does; its per-kind conversion is cached on first use.
func BenchmarkEvaluate(b *testing.B) {
	st := decodeFixture(b, "slsa1.json")
	for kind, src := range slsaPolicies() {
		b.Run(kind, func(b *testing.B) {
			p := compile(b, kind, src)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				v, err := p.Evaluate(ctx, st)
				if err != nil || !v.Passed {
					b.Fatalf("verdict %+v, err %v", v, err)
				}
			}
		})
	}
}

// BenchmarkDecodeEnvelope measures decoding an SBOM attestation.
func BenchmarkDecodeEnvelope(b *testing.B) {
	env := wrap(b, readFixture(b, "spdx.json"))
	b.ReportAllocs()
	b.SetBytes(int64(len(env)))
	for b.Loop() {
		if _, err := DecodeEnvelope(env); err != nil {
			b.Fatal(err)
		}
	}
}
