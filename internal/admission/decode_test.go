package admission

import (
	"bytes"
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
