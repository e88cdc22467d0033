package admission

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/policy"
)

// serveInProcess posts body to path on h without TLS or network and
// returns the recorder.
func serveInProcess(h http.Handler, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// BenchmarkVerificationCachePod is one /validate of a Pod with a signed
// image under an enforce ClusterImagePolicy, in process against the
// loopback registry: on a hit of the signed verification record, on a
// cold miss (no record, the verifier's own cache off: every admission
// asks the registry), with the verifier's in-process cache warm, and the
// same Pod without image policies. Reports p50/p99 and registry requests
// per admission.
//
//	go test -run '^$' -bench BenchmarkVerificationCachePod -benchtime 2000x ./internal/admission/
func BenchmarkVerificationCachePod(b *testing.B) {
	f := startCacheFixture(b)
	ann := f.recordFor(b, f.signed)
	withRecord := reviewBody(b, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: childJSON("Pod", "shop", ann, f.signedPin)})
	without := reviewBody(b, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: childJSON("Pod", "shop", "", f.signedPin)})
	warm := newHandler(b, HandlerOptions{Policies: f.src, Engine: engine.New(engine.WithImagePolicyVerifier(
		imageverify.New(imageverify.Options{}), engine.ImagePolicyOptions{}))})
	none := newHandler(b, HandlerOptions{Policies: NewAtomicSource(&policy.Set{}),
		VerificationCache: &VerificationCacheOptions{Keys: f.keys.Get}})
	for _, bc := range []struct {
		name string
		h    http.Handler
		body []byte
	}{
		{"no-image-policies", none, withRecord},
		{"hit", f.h, withRecord},
		{"cold-miss", f.h, without},
		{"in-process-cache", warm, without},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if rec := serveInProcess(bc.h, PathValidate, bc.body); !bytes.Contains(rec.Body.Bytes(), []byte(`"allowed":true`)) {
				b.Fatalf("HTTP %d: %s", rec.Code, rec.Body.Bytes())
			}
			f.reg.Reset()
			var took []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				serveInProcess(bc.h, PathValidate, bc.body)
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(f.reg.Count())/float64(len(took)), "registry-requests/op")
		})
	}
}

// recordFor mutates a Deployment of image and returns its record.
func (f *cacheFixture) recordFor(tb testing.TB, image string) string {
	tb.Helper()
	body := reviewBody(tb, reviewReq{kind: "Deployment", namespace: "shop", name: "web", object: deploymentJSON("shop", "", image)})
	rec := serveInProcess(f.h, PathMutate, body)
	var review struct {
		Response struct {
			Patch []byte `json:"patch"`
		} `json:"response"`
	}
	if err := jsonUnmarshal(rec.Body.Bytes(), &review); err != nil {
		tb.Fatal(err)
	}
	var patches []engine.Patch
	if err := jsonUnmarshal(review.Response.Patch, &patches); err != nil {
		tb.Fatal(err)
	}
	for _, p := range patches {
		if m, ok := p.Value.(map[string]any); ok {
			for _, v := range m {
				return v.(string)
			}
		}
	}
	tb.Fatalf("no record in %s", review.Response.Patch)
	return ""
}

// BenchmarkRollout100 counts the registry requests of a 100-replica
// rollout as the API server sends it to the webhooks: the Deployment,
// its ReplicaSet and 100 Pods, each through /mutate then /validate.
//
//	go test -run '^$' -bench BenchmarkRollout100 -benchtime 1x ./internal/admission/
func BenchmarkRollout100(b *testing.B) {
	f := startCacheFixture(b)
	cold := func() *engine.Engine {
		return engine.New(engine.WithImagePolicyVerifier(imageverify.New(imageverify.Options{TTL: -1, NegativeTTL: -1, TagTTL: -1}), engine.ImagePolicyOptions{}))
	}
	for _, bc := range []struct {
		name string
		h    func() http.Handler
	}{
		{"cache/cold-verifier", func() http.Handler {
			return newHandler(b, HandlerOptions{Policies: f.src, Engine: cold(),
				VerificationCache: &VerificationCacheOptions{Keys: f.keys.Get}})
		}},
		{"no-cache/cold-verifier", func() http.Handler { return newHandler(b, HandlerOptions{Policies: f.src, Engine: cold()}) }},
		{"no-cache/in-process-cache", func() http.Handler {
			return newHandler(b, HandlerOptions{Policies: f.src, Engine: engine.New(engine.WithImagePolicyVerifier(
				imageverify.New(imageverify.Options{}), engine.ImagePolicyOptions{}))})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var total, parent int64
			runs := 0
			for b.Loop() {
				h := bc.h()
				f.reg.Reset()
				dep := admitTwice(b, h, "Deployment", deploymentJSON("shop", "", f.signed))
				parent += f.reg.Count()
				rs := childJSON("ReplicaSet", "shop", "", f.signed)
				rs = replaceTemplate(b, rs, dep)
				admitTwice(b, h, "ReplicaSet", rs)
				for range 100 {
					admitTwice(b, h, "Pod", replaceTemplate(b, childJSON("Pod", "shop", "", f.signed), dep))
				}
				total += f.reg.Count()
				runs++
			}
			b.ReportMetric(float64(total)/float64(runs), "registry-requests/rollout")
			b.ReportMetric(float64(parent)/float64(runs), "registry-requests/deployment")
		})
	}
}

// admitTwice sends obj through /mutate, applies the patch, sends the
// result through /validate (failing unless allowed) and returns it.
func admitTwice(tb testing.TB, h http.Handler, kind, obj string) map[string]any {
	tb.Helper()
	rec := serveInProcess(h, PathMutate, reviewBody(tb, reviewReq{kind: kind, namespace: "shop", name: "web", object: obj}))
	var review struct {
		Response struct {
			Allowed bool   `json:"allowed"`
			Patch   []byte `json:"patch"`
		} `json:"response"`
	}
	if err := jsonUnmarshal(rec.Body.Bytes(), &review); err != nil || !review.Response.Allowed {
		tb.Fatalf("mutate %s: %v %s", kind, err, rec.Body.Bytes())
	}
	var m map[string]any
	if err := jsonUnmarshal([]byte(obj), &m); err != nil {
		tb.Fatal(err)
	}
	var patches []engine.Patch
	if len(review.Response.Patch) > 0 {
		if err := jsonUnmarshal(review.Response.Patch, &patches); err != nil {
			tb.Fatal(err)
		}
	}
	for _, p := range patches {
		if p.Op == "replace" {
			if err := replaceAt(m, p.Path, p.Value); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		// The record annotation: add it where the patch says.
		tmpl := templateMeta(kind, m)
		ann, _ := tmpl["annotations"].(map[string]any)
		if ann == nil {
			ann = map[string]any{}
			tmpl["annotations"] = ann
		}
		switch v := p.Value.(type) {
		case map[string]any:
			for k, x := range v {
				ann[k] = x
			}
		case string:
			ann["portcullis.dev/verified"] = v
		}
	}
	out, _ := jsonMarshal(m)
	rec = serveInProcess(h, PathValidate, reviewBody(tb, reviewReq{kind: kind, namespace: "shop", name: "web", object: string(out)}))
	if !bytes.Contains(rec.Body.Bytes(), []byte(`"allowed":true`)) {
		tb.Fatalf("validate %s: %s", kind, rec.Body.Bytes())
	}
	return m
}

func templateMeta(kind string, obj map[string]any) map[string]any {
	if kind == "Pod" {
		return obj["metadata"].(map[string]any)
	}
	return obj["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)
}

// replaceTemplate gives child (a ReplicaSet or Pod) the pod template of
// the admitted Deployment dep, as the controllers copy it.
func replaceTemplate(tb testing.TB, child string, dep map[string]any) string {
	tb.Helper()
	var m map[string]any
	if err := jsonUnmarshal([]byte(child), &m); err != nil {
		tb.Fatal(err)
	}
	tmpl := dep["spec"].(map[string]any)["template"].(map[string]any)
	if m["kind"] == "Pod" {
		meta := m["metadata"].(map[string]any)
		if a, ok := tmpl["metadata"].(map[string]any)["annotations"]; ok {
			meta["annotations"] = a
		}
		m["spec"] = tmpl["spec"]
	} else {
		m["spec"].(map[string]any)["template"] = tmpl
	}
	out, err := jsonMarshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
func jsonMarshal(v any) ([]byte, error)      { return json.Marshal(v) }
