package imageverify

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"
)

// BenchmarkVerifyKey measures a cold verification (new Verifier, tag
// reference: resolve + signature fetch + verify) and a warm one (cache hit
// by digest). requests/op counts registry requests through the proxy.
func BenchmarkVerifyKey(b *testing.B) {
	reg := startRegistry(b)
	key := newKey(b)
	d := reg.PushRandom(b, "bench/app", "v1")
	reg.Sign(b, "bench/app", d, key, nil)
	ctx := context.Background()

	b.Run("cold", func(b *testing.B) {
		ref := reg.Ref("bench/app", "v1")
		reg.Reset()
		b.ReportAllocs()
		for b.Loop() {
			v := New(Options{})
			if res, err := v.VerifyKey(ctx, ref, key.PublicPEM); err != nil || !res.Verified {
				b.Fatal(res, err)
			}
		}
		b.ReportMetric(float64(reg.Count())/float64(b.N), "requests/op")
	})
	b.Run("warm", func(b *testing.B) {
		ref := reg.Ref("bench/app", d.String())
		v := New(Options{})
		if _, err := v.VerifyKey(ctx, ref, key.PublicPEM); err != nil {
			b.Fatal(err)
		}
		reg.Reset()
		b.ReportAllocs()
		for b.Loop() {
			if res, err := v.VerifyKey(ctx, ref, key.PublicPEM); err != nil || !res.Verified {
				b.Fatal(res, err)
			}
		}
		b.ReportMetric(float64(reg.Count())/float64(b.N), "requests/op")
	})
}

// BenchmarkVerifyKeyColdLatency reports the latency distribution of cold
// keyed verifications (fresh Verifier, tag reference) across distinct
// signed images: p50/p99 in ms and registry requests per verification.
//
//	go test -run '^$' -bench BenchmarkVerifyKeyColdLatency -benchtime 500x ./internal/imageverify/
func BenchmarkVerifyKeyColdLatency(b *testing.B) {
	reg := startRegistry(b)
	key := newKey(b)
	const images = 20
	refs := make([]string, images)
	for i := range refs {
		tag := "v" + strconv.Itoa(i)
		d := reg.PushRandom(b, "bench/cold", tag)
		reg.Sign(b, "bench/cold", d, key, nil)
		refs[i] = reg.Ref("bench/cold", tag)
	}
	ctx := context.Background()
	reg.Reset()
	lat := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		v := New(Options{})
		start := time.Now()
		res, err := v.VerifyKey(ctx, refs[i%images], key.PublicPEM)
		lat = append(lat, time.Since(start))
		if err != nil || !res.Verified {
			b.Fatal(res, err)
		}
		i++
	}
	sort.Slice(lat, func(a, c int) bool { return lat[a] < lat[c] })
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(reg.Count())/float64(len(lat)), "requests/op")
}

// BenchmarkVerifyKeyWarmLatency reports the latency of cache hits (tag
// references resolved within TagTTL): p50/p99 and registry requests per
// verification (0 when every verdict comes from memory).
//
//	go test -run '^$' -bench BenchmarkVerifyKeyWarmLatency -benchtime 20000x ./internal/imageverify/
func BenchmarkVerifyKeyWarmLatency(b *testing.B) {
	reg := startRegistry(b)
	key := newKey(b)
	d := reg.PushRandom(b, "bench/warm", "v1")
	reg.Sign(b, "bench/warm", d, key, nil)
	ref := reg.Ref("bench/warm", "v1")
	ctx := context.Background()
	v := New(Options{})
	if res, err := v.VerifyKey(ctx, ref, key.PublicPEM); err != nil || !res.Verified {
		b.Fatal(res, err)
	}
	reg.Reset()
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		res, err := v.VerifyKey(ctx, ref, key.PublicPEM)
		lat = append(lat, time.Since(start))
		if err != nil || !res.Verified || !res.Cached {
			b.Fatal(res, err)
		}
	}
	sort.Slice(lat, func(a, c int) bool { return lat[a] < lat[c] })
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(reg.Count())/float64(len(lat)), "requests/op")
}
