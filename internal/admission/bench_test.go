package admission

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

// BenchmarkServeValidate is one /validate request against the 17 PSS
// rules, in process (no TLS, no network): decode, evaluate, answer.
func BenchmarkServeValidate(b *testing.B) {
	for _, bc := range []struct {
		name, kind, object string
		allowed            bool
	}{
		{"compliant-pod", "Pod", compliantPod, true},
		{"denied-pod", "Pod", hostPathPod, false},
		{"denied-deployment", "Deployment", badDeployment, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHandler(b, HandlerOptions{Policies: NewAtomicSource(pssSet(b, policy.Enforce))})
			body := reviewBody(b, reviewReq{uid: "bench", kind: bc.kind, namespace: "ns", name: "x", object: bc.object})
			want := []byte(`"allowed":false`)
			if bc.allowed {
				want = []byte(`"allowed":true`)
			}
			serve := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, PathValidate, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			if rec := serve(); rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), want) {
				b.Fatalf("HTTP %d: %s", rec.Code, rec.Body.Bytes())
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
		})
	}
}

// BenchmarkServeValidateGoroutine serves hack/loadgen's review (a
// ReplicaSet's Pod CREATE, 6.6 KB: testdata/loadgen-review.json) against
// the 17 PSS rules with every request on a new goroutine, as net/http's
// HTTP/2 server runs each request: the goroutine starts with a small
// stack, so what the handler's recursion (JSON decoding, JMESPath) costs
// in stack growth shows here and not in BenchmarkServeValidate, whose
// goroutine keeps the stack it grew on the first iteration.
func BenchmarkServeValidateGoroutine(b *testing.B) {
	h := newHandler(b, HandlerOptions{Policies: NewAtomicSource(pssSet(b, policy.Enforce))})
	body := loadgenReview(b)
	done := make(chan *httptest.ResponseRecorder)
	serve := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, PathValidate, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			done <- rec
		}()
		return <-done
	}
	if rec := serve(); rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), []byte(`"allowed":true`)) {
		b.Fatalf("HTTP %d: %s", rec.Code, rec.Body.Bytes())
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

// loadgenReview is hack/loadgen's built-in review (a copy of its
// builtinReview).
func loadgenReview(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/loadgen-review.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// BenchmarkServeMutate is one /mutate request against Kyverno mutate
// rules (an add-if-not-present label, a conditional anchor over the
// containers, a foreach strategic merge per container), in process (no
// TLS, no network): decode, mutate, diff, answer with the JSON patch.
//
//	go test -run '^$' -bench BenchmarkServeMutate ./internal/admission/
func BenchmarkServeMutate(b *testing.B) {
	set, err := policy.LoadBytes("bench.yaml", []byte(defaultsPolicy+`---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: security-defaults}
spec:
  rules:
  - name: per-container
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      foreach:
      - list: request.object.spec.containers
        patchStrategicMerge:
          spec:
            containers:
            - name: "{{ element.name }}"
              securityContext:
                +(allowPrivilegeEscalation): false
`), policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, kind, object string }{
		{"pod", "Pod", privilegedPod},
		{"deployment", "Deployment", badDeployment},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHandler(b, HandlerOptions{Policies: NewAtomicSource(set)})
			body := reviewBody(b, reviewReq{uid: "bench", kind: bc.kind, namespace: "ns", name: "x", object: bc.object})
			serve := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, PathMutate, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			if rec := serve(); rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), []byte(`"patchType":"JSONPatch"`)) {
				b.Fatalf("HTTP %d: %s", rec.Code, rec.Body.Bytes())
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
		})
	}
}

// BenchmarkConcurrentImageAdmissions: each iteration sends 100 concurrent
// admissions of one image the webhook has not seen (a fresh tag), over
// HTTPS to the handler, with a ClusterImagePolicy requiring its signature.
// Reports the registry requests per 100 admissions (one verification fetch
// sequence when deduplication works) and the slowest admission.
//
//	go test -run '^$' -bench BenchmarkConcurrentImageAdmissions -benchtime 20x ./internal/admission/
func BenchmarkConcurrentImageAdmissions(b *testing.B) {
	f := startImageAdmission(b, &policy.Set{})
	key := f.key
	const n = 100
	var worst time.Duration
	var requests int64
	i := 0
	for b.Loop() {
		b.StopTimer()
		tag := "fresh-" + strconv.Itoa(i)
		d := f.reg.PushRandom(b, "team/app", tag)
		f.reg.Sign(b, "team/app", d, key, nil)
		body := reviewBody(b, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: podWithImage(f.reg.Ref("team/app", tag))})
		f.reg.Reset()
		b.StartTimer()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for j := 0; j < n; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				code, data := post(b, f.srv, PathValidate, "application/json", body)
				el := time.Since(start)
				if code != http.StatusOK || !strings.Contains(string(data), `"allowed":true`) {
					b.Errorf("admission failed: %d %s", code, data)
				}
				mu.Lock()
				worst = max(worst, el)
				mu.Unlock()
			}()
		}
		wg.Wait()
		requests += f.reg.Count()
		i++
	}
	b.ReportMetric(float64(requests)/float64(i), "registry-requests/100-admissions")
	b.ReportMetric(float64(worst.Microseconds())/1000, "slowest-ms")
}
