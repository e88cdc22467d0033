package admission

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// decodeSeeds are reviews both decoders must read alike: well formed ones
// and each kind of refusal.
func decodeSeeds(t testing.TB) [][]byte {
	t.Helper()
	seeds := [][]byte{
		reviewBody(t, reviewReq{uid: "u-1", kind: "Pod", namespace: "ns", name: "p", object: compliantPod}),
		reviewBody(t, reviewReq{uid: "u-2", op: "UPDATE", kind: "Pod", namespace: "ns", name: "p", object: compliantPod, oldObject: hostPathPod, dryRun: true, groups: []string{"g"}}),
		reviewBody(t, reviewReq{uid: "u-3", op: "DELETE", kind: "Deployment", namespace: "ns", name: "d", oldObject: badDeployment}),
	}
	for _, s := range []string{
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":null,"oldObject":{}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","kind":{"kind":"Pod"},"object":"pod"}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","kind":{"kind":"Pod"},"oldObject":[1]}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":42,"object":{}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"object":{"a":1}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":{"a":1},"options":{"kind":"CreateOptions"}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":{"a":[1,2.5,"s",null,true]}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":{"a":1}`, /* truncated */
		`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":"pod","UID":7}}`,
		`[1,2]`, `null`, `"review"`, `<AdmissionReview/>`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// sameDecoding fails t when decodeReview (one pass) and decodeReviewSlow
// (the review, then each object from its raw bytes) read data
// differently.
func sameDecoding(t *testing.T, data []byte) {
	t.Helper()
	fast, ferr := decodeReview(data)
	slow, serr := decodeReviewSlow(data)
	if !reflect.DeepEqual(ferr, serr) {
		t.Fatalf("%s\nrefusals differ:\n one pass: %v\n slow:     %v", data, ferr, serr)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s\ndecodings differ:\n one pass: %#v\n slow:     %#v", data, fast, slow)
	}
}

func TestDecodeReviewOnePass(t *testing.T) {
	for _, s := range decodeSeeds(t) {
		sameDecoding(t, s)
	}
	// The one pass must have decoded the object itself, not through the
	// slow path.
	d, err := decodeReview(decodeSeeds(t)[0])
	if err != nil || d.obj["kind"] != "Pod" || len(d.req.Object.Raw) != 0 {
		t.Fatalf("decodeReview: %v, %v", d, err)
	}
}

// FuzzDecodeReview checks that the one-pass decoder of the handler reads
// every review as decoding the AdmissionReview and then its objects does:
// the same request, the same objects, the same refusal.
//
//	go test -run '^$' -fuzz '^FuzzDecodeReview$' -fuzztime 5m ./internal/admission/
func FuzzDecodeReview(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A request naming its object twice (keys match case-insensitively)
		// is the one known difference: the one pass merges both objects,
		// the slow path keeps the last. The API server never sends one.
		lower := bytes.ToLower(data)
		if bytes.Count(lower, []byte(`object"`)) > 1 || bytes.Count(lower, []byte(`"request"`)) > 1 || bytes.Contains(lower, []byte(`\u`)) {
			t.Skip()
		}
		sameDecoding(t, data)
	})
}

// strictSameAsV1 fails t when decodeReviewStrict accepts data and
// encoding/json reads it differently (or refuses it). It reports whether
// decodeReviewStrict accepted.
func strictSameAsV1(t *testing.T, data []byte) bool {
	t.Helper()
	strict, ok := decodeReviewStrict(data)
	if !ok {
		return false
	}
	var v1 wireReview
	if err := json.Unmarshal(data, &v1); err != nil {
		t.Fatalf("%s\nthe strict decoder accepted what encoding/json refuses: %v", data, err)
	}
	if !reflect.DeepEqual(strict, v1) {
		t.Fatalf("%s\ndecodings differ:\n strict:        %#v\n encoding/json: %#v", data, strict.Request, v1.Request)
	}
	return true
}

func TestDecodeReviewStrict(t *testing.T) {
	seeds := decodeSeeds(t)
	// What the API server sends is read by the strict decoder, as
	// encoding/json reads it.
	for i, data := range append([][]byte{loadgenReview(t)}, seeds[:3]...) {
		if !strictSameAsV1(t, data) {
			t.Errorf("review %d: the strict decoder declined a review as the API server sends it", i)
		}
	}
	for _, data := range seeds {
		strictSameAsV1(t, data)
	}
	// What it declines encoding/json reads, as before.
	const head = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{`
	for _, s := range []string{
		head + `"uid":"x","object":{"a":1,"a":2}}}`,                                                      // a name twice: encoding/json keeps the last
		head + `"uid":"x","object":{"a":"\ud800"}}}`,                                                     // a lone surrogate: U+FFFD
		head + `"uid":"x","object":{"a":"` + "\xff" + `"}}}`,                                             // invalid UTF-8: U+FFFD
		head + `"UID":"x","object":{"a":1}}}`,                                                            // encoding/json matches names case-insensitively
		head + `"uid":"x","object":{"a":1},"futureField":{"b":2}}}`,                                      // a field this k8s.io/api does not know
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","kind":"x","request":{"uid":"x"}}`, // a name twice at the top
	} {
		if strictSameAsV1(t, []byte(s)) {
			t.Errorf("%s: the strict decoder accepted it", s)
		}
		fast, ferr := decodeReview([]byte(s))
		v1, verr := decodeReviewV1([]byte(s))
		if !reflect.DeepEqual(fast, v1) || !reflect.DeepEqual(ferr, verr) {
			t.Errorf("%s: decodeReview %#v, %v; encoding/json %#v, %v", s, fast, ferr, v1, verr)
		}
	}
}

// FuzzDecodeReviewStrict checks that whatever review the strict decoder
// (github.com/go-json-experiment/json) accepts, encoding/json decodes to
// the same values.
//
//	go test -run '^$' -fuzz '^FuzzDecodeReviewStrict$' -fuzztime 5m ./internal/admission/
func FuzzDecodeReviewStrict(f *testing.F) {
	f.Add(loadgenReview(f))
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		strictSameAsV1(t, data)
	})
}

// BenchmarkDecodeReview decodes hack/loadgen's review (6.6 KB) with the
// strict decoder and with encoding/json.
func BenchmarkDecodeReview(b *testing.B) {
	data := loadgenReview(b)
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := decodeReviewStrict(data); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeReviewV1(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
