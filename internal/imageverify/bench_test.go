package imageverify

import (
	"context"
	"testing"
)

// BenchmarkVerifyKey measures a cold verification (new Verifier, tag
// reference: resolve + signature fetch + verify) and a warm one (cache hit
// by digest). requests/op counts registry requests through the proxy.
func BenchmarkVerifyKey(b *testing.B) {
	reg := startRegistry(b)
	key := newKey(b)
	d := reg.pushRandom(b, "bench/app", "v1")
	reg.sign(b, "bench/app", d, key, nil)
	ctx := context.Background()

	b.Run("cold", func(b *testing.B) {
		ref := reg.ref("bench/app", "v1")
		reg.reset()
		b.ReportAllocs()
		for b.Loop() {
			v := New(Options{})
			if res, err := v.VerifyKey(ctx, ref, key.pubPEM); err != nil || !res.Verified {
				b.Fatal(res, err)
			}
		}
		b.ReportMetric(float64(reg.count())/float64(b.N), "requests/op")
	})
	b.Run("warm", func(b *testing.B) {
		ref := reg.ref("bench/app", d.String())
		v := New(Options{})
		if _, err := v.VerifyKey(ctx, ref, key.pubPEM); err != nil {
			b.Fatal(err)
		}
		reg.reset()
		b.ReportAllocs()
		for b.Loop() {
			if res, err := v.VerifyKey(ctx, ref, key.pubPEM); err != nil || !res.Verified {
				b.Fatal(res, err)
			}
		}
		b.ReportMetric(float64(reg.count())/float64(b.N), "requests/op")
	})
}
