package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// apiserverMetrics scrapes the API server's /metrics (envtest's admin
// client may read it) and returns every sample whose name starts with one
// of prefixes, keyed by the series as written ("name{labels}").
func apiserverMetrics(tb testing.TB, cfg *rest.Config, prefixes ...string) map[string]float64 {
	tb.Helper()
	body := apiserverGet(tb, cfg, "/metrics")
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		keep := false
		for _, p := range prefixes {
			keep = keep || strings.HasPrefix(line, p)
		}
		if !keep {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			tb.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// apiserverGet GETs path from the API server as envtest's admin.
func apiserverGet(tb testing.TB, cfg *rest.Config, path string) []byte {
	tb.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := hc.Get(strings.TrimSuffix(cfg.Host, "/") + path)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %v: %.300s", path, resp.StatusCode, err, body)
	}
	return body
}

// sumSeries adds the samples of name (exactly: "name{" or "name") whose
// labels contain every one of labels (`key="value"` strings).
func sumSeries(m map[string]float64, name string, labels ...string) float64 {
	var sum float64
	for k, v := range m {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(k, l)
		}
		if ok {
			sum += v
		}
	}
	return sum
}

// apiserverCosts are the API server's own accounts of admission, summed
// over the series a test cares about.
type apiserverCosts struct {
	// webhookSum/webhookCount: apiserver_admission_webhook_admission_duration_seconds
	// of validating webhooks on CREATE (building and encoding the review, the
	// round trip, decoding the answer).
	webhookSum, webhookCount float64
	// validateSum/validateCount: apiserver_admission_step_admission_duration_seconds
	// of the validating step of CREATEs (every validating plugin, webhooks included).
	validateSum, validateCount float64
	// calls by type (validating, admit) of apiserver_admission_webhook_request_total.
	validatingCalls, mutatingCalls float64
	// matchConditions evaluated (apiserver_admission_match_condition_evaluation_seconds_count).
	matchConditions float64
}

// readAPIServerCosts reads the API server's admission metrics; the
// webhook figures and validating calls are those of the webhooks whose
// name starts with hook, the mutating calls those of every webhook.
func readAPIServerCosts(tb testing.TB, cfg *rest.Config, hook string) apiserverCosts {
	tb.Helper()
	m := apiserverMetrics(tb, cfg, "apiserver_admission_")
	const create = `operation="CREATE"`
	name := `name="` + hook
	return apiserverCosts{
		webhookSum:      sumSeries(m, "apiserver_admission_webhook_admission_duration_seconds_sum", `type="validating"`, create, name),
		webhookCount:    sumSeries(m, "apiserver_admission_webhook_admission_duration_seconds_count", `type="validating"`, create, name),
		validateSum:     sumSeries(m, "apiserver_admission_step_admission_duration_seconds_sum", `type="validate"`, create),
		validateCount:   sumSeries(m, "apiserver_admission_step_admission_duration_seconds_count", `type="validate"`, create),
		validatingCalls: sumSeries(m, "apiserver_admission_webhook_request_total", `type="validating"`, name),
		mutatingCalls:   sumSeries(m, "apiserver_admission_webhook_request_total", `type="admit"`),
		matchConditions: sumSeries(m, "apiserver_admission_match_condition_evaluation_seconds_count"),
	}
}

func (c apiserverCosts) sub(o apiserverCosts) apiserverCosts {
	return apiserverCosts{
		webhookSum: c.webhookSum - o.webhookSum, webhookCount: c.webhookCount - o.webhookCount,
		validateSum: c.validateSum - o.validateSum, validateCount: c.validateCount - o.validateCount,
		validatingCalls: c.validatingCalls - o.validatingCalls, mutatingCalls: c.mutatingCalls - o.mutatingCalls,
		matchConditions: c.matchConditions - o.matchConditions,
	}
}

// connectionsTo lists the TCP connections (any state, TIME_WAIT included)
// whose server side is port on this host, as "local->remote" from
// /proc/net/tcp and tcp6: a connection opened and closed since an earlier
// call still shows for a minute in TIME_WAIT.
func connectionsTo(tb testing.TB, port int) map[string]bool {
	tb.Helper()
	out := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] == "0A" { // 0A: LISTEN
				continue
			}
			local, remote := fields[1], fields[2]
			if hexPort(local) == port {
				out[local+"->"+remote] = true
			}
		}
	}
	return out
}

func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	b, err := hex.DecodeString(addr[i+1:])
	if err != nil || len(b) != 2 {
		return -1
	}
	return int(b[0])<<8 | int(b[1])
}

// TestPodCreateWebhookCost looks at what a compliant Pod create costs the
// API server when Portcullis's webhook covers it (the three runbook
// policies): one validating call and no mutating one, no matchConditions,
// one TLS connection reused for every call, and an answer that carries
// nothing but the verdict. It logs the API server's own timing of the
// call next to the handler's. With PORTCULLIS_PODCREATE_PROFILE=DIR it
// also writes CPU profiles of the API server during webhook-covered and
// plain creates, and of this process (the webhook) during the covered ones.
func TestPodCreateWebhookCost(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) { te.CRDs = PolicyCRDs("portcullis.dev") }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	const covered, plain = "cost", "cost-plain"
	for _, ns := range []string{covered, plain, "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	r, _ := startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, ExcludeNamespaces: []string{"kube-system", "portcullis-system", plain}, Registry: reg})
	waitBlocked(ctx, t, env, covered)
	n := 0
	create := func(ns string) time.Duration {
		n++
		start := time.Now()
		if err := env.Client.Create(ctx, pod(fmt.Sprintf("p-%d", n), ns, "gcr.io/app:1", true, true)); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	for range 20 { // warm up both paths
		create(covered)
		create(plain)
	}
	_, portStr, _ := net.SplitHostPort(r.Addr)
	port, _ := strconv.Atoi(portStr)
	conns0 := connectionsTo(t, port)

	const calls = 100
	before := readAPIServerCosts(t, env.Config, "validate-")
	h0, hn0 := handlerTime(t, reg)
	for range calls {
		create(covered)
	}
	after := readAPIServerCosts(t, env.Config, "validate-")
	h1, hn1 := handlerTime(t, reg)
	for range calls {
		create(plain)
	}
	afterPlain := readAPIServerCosts(t, env.Config, "validate-")
	conns1 := connectionsTo(t, port)

	d, dp := after.sub(before), afterPlain.sub(after)
	if d.validatingCalls != calls || d.mutatingCalls != 0 {
		t.Errorf("%d compliant Pod creates made %v validating and %v mutating webhook calls, want %d and 0", calls, d.validatingCalls, d.mutatingCalls, calls)
	}
	if dp.validatingCalls != 0 || dp.mutatingCalls != 0 {
		t.Errorf("%d creates in the excluded namespace made %v validating and %v mutating webhook calls, want none", calls, dp.validatingCalls, dp.mutatingCalls)
	}
	if d.matchConditions != 0 {
		t.Errorf("the API server evaluated %v matchConditions for %d creates: none are configured", d.matchConditions, calls)
	}
	var opened []string
	for c := range conns1 {
		if !conns0[c] {
			opened = append(opened, c)
		}
	}
	if len(opened) > 0 || len(conns0) == 0 {
		t.Errorf("%d webhook calls: connections to the webhook before %d, opened since %v; want one reused", calls, len(conns0), opened)
	}
	us := func(sum, count float64) float64 { return sum / count * 1e6 }
	// Timing belongs to BenchmarkPodCreate (alternating creates); these
	// are the shares of one call.
	t.Logf("per covered create (µs, %d): the API server's validating step %.0f (plain creates: %.0f), its webhook call %.0f, serve's handler %.0f; webhook connections %d",
		calls, us(d.validateSum, d.validateCount), us(dp.validateSum, dp.validateCount), us(d.webhookSum, d.webhookCount),
		us(h1-h0, float64(hn1-hn0)), len(conns1))

	// What the API server sends and what the webhook answers: the review a
	// recording webhook receives for a compliant Pod, replayed to serve.
	review := recordReview(ctx, t, env)
	var wire struct {
		Request map[string]json.RawMessage `json:"request"`
	}
	if err := json.Unmarshal(review, &wire); err != nil {
		t.Fatal(err)
	}
	var sizes []string
	for k, v := range wire.Request {
		sizes = append(sizes, fmt.Sprintf("%s %d", k, len(v)))
	}
	sort.Strings(sizes)
	t.Logf("AdmissionReview of a compliant Pod create: %d bytes (request fields: %s); managedFields sent: %v",
		len(review), strings.Join(sizes, ", "), bytes.Contains(wire.Request["object"], []byte(`"managedFields"`)))
	answer := replayReview(ctx, t, env, review)
	var resp struct {
		Response map[string]json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(answer, &resp); err != nil {
		t.Fatal(err)
	}
	for k := range resp.Response {
		if k != "uid" && k != "allowed" {
			t.Errorf("the answer to a compliant Pod carries %s: %s", k, answer)
		}
	}
	t.Logf("answer: %d bytes: %s", len(answer), answer)

	if dir := os.Getenv("PORTCULLIS_PODCREATE_PROFILE"); dir != "" {
		profileCreates(ctx, t, env, dir, "covered", covered, create)
		profileCreates(ctx, t, env, dir, "plain", plain, create)
	}
}

// waitBlocked waits until the API server sends ns's Pods to the webhook
// (a non-compliant Pod is denied).
func waitBlocked(ctx context.Context, t testing.TB, env *Env, ns string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		err := env.Client.Create(ctx, pod(fmt.Sprintf("probe-%d", time.Now().UnixNano()), ns, "docker.io/nginx", false, false))
		if err != nil && strings.Contains(err.Error(), "blocked") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the webhook never denied a non-compliant Pod in %s", ns)
}

// recordReview returns the AdmissionReview the API server sends a webhook
// for a compliant Pod create, as received by a recording webhook
// registered for one namespace of its own.
func recordReview(ctx context.Context, t *testing.T, env *Env) []byte {
	t.Helper()
	got := make(chan []byte, 1)
	const ns = "cost-recorded"
	if err := env.Client.Create(ctx, namespace(ns)); err != nil {
		t.Fatal(err)
	}
	installTestWebhook(ctx, t, env, "record", ns, false, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case got <- body:
		default:
		}
		allow(w, body)
	})
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if err := env.Client.Create(ctx, pod(fmt.Sprintf("recorded-%d", i), ns, "gcr.io/app:1", true, true)); err != nil {
			t.Fatal(err)
		}
		select {
		case b := <-got:
			return b
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the recording webhook was never called")
		}
	}
}

// allow answers the AdmissionReview request body with an admission and
// nothing else, doing as little as a webhook can: the request's uid is
// the first "uid" the API server writes (request.uid precedes the object).
func allow(w http.ResponseWriter, body []byte) {
	uid := ""
	if i := bytes.Index(body, []byte(`"uid":"`)); i >= 0 {
		rest := body[i+len(`"uid":"`):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			uid = string(rest[:j])
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":%q,"allowed":true}}`, uid)
}

// installTestWebhook serves h over HTTPS in this process (HTTP/2 like
// serve's webhook server, or HTTP/1.1 only when http1) and registers it as
// the validating webhook "<name>.podcreate.test" for Pod creates in
// namespace ns only, removed when tb ends.
func installTestWebhook(ctx context.Context, tb testing.TB, env *Env, name, ns string, http1 bool, h http.HandlerFunc) {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = !http1
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	url := srv.URL + "/" + name
	none, fail := admissionregistrationv1.SideEffectClassNone, admissionregistrationv1.Fail
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	cfg.Name = "podcreate-" + name
	cfg.Webhooks = []admissionregistrationv1.ValidatingWebhook{{
		Name: name + ".podcreate.test", SideEffects: &none, FailurePolicy: &fail, AdmissionReviewVersions: []string{"v1"},
		ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
		Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
			Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
	}}
	if err := env.Client.Create(ctx, cfg); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = env.Client.Delete(context.Background(), cfg) })
}

// replayReview posts review to the path of serve's validating webhook
// that covers Pods and returns the answer.
func replayReview(ctx context.Context, t *testing.T, env *Env, review []byte) []byte {
	t.Helper()
	var cfgs admissionregistrationv1.ValidatingWebhookConfigurationList
	if err := env.Client.List(ctx, &cfgs, client.MatchingLabels{"app.kubernetes.io/managed-by": "portcullis"}); err != nil {
		t.Fatal(err)
	}
	var hook *admissionregistrationv1.ValidatingWebhook
	for i := range cfgs.Items {
		for j, h := range cfgs.Items[i].Webhooks {
			for _, r := range h.Rules {
				for _, res := range r.Resources {
					if res == "pods" && hook == nil {
						hook = &cfgs.Items[i].Webhooks[j]
					}
				}
			}
		}
	}
	if hook == nil || hook.ClientConfig.URL == nil {
		t.Fatalf("no webhook of serve covers pods: %+v", cfgs.Items)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(hook.ClientConfig.CABundle)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *hook.ClientConfig.URL+"?timeout=10s", bytes.NewReader(review))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("replayed review: %d %s", resp.StatusCode, body)
	}
	return body
}

// profileCreates writes CPU profiles of the API server and of this
// process while Pods are created in ns for 15 s.
func profileCreates(ctx context.Context, t *testing.T, env *Env, dir, label, ns string, create func(string) time.Duration) {
	t.Helper()
	const seconds = 15
	f, err := os.Create(filepath.Join(dir, "self-"+label+".pprof"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	done := make(chan []byte, 1)
	go func() { done <- apiserverGet(t, env.Config, fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds)) }()
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	var count int
	var sum time.Duration
	for end := time.Now().Add(seconds * time.Second); time.Now().Before(end) && ctx.Err() == nil; count++ {
		sum += create(ns)
	}
	pprof.StopCPUProfile()
	prof := <-done
	if err := os.WriteFile(filepath.Join(dir, "apiserver-"+label+".pprof"), prof, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("profiled %s: %d creates, mean %d µs", label, count, (sum / time.Duration(count)).Microseconds())
}

// teamRegistries is a namespaced Policy: it applies to team-a's Pods only,
// every container list included.
const teamRegistries = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: {name: registries, namespace: team-a}
spec:
  validationFailureAction: Enforce
  rules:
  - name: approved
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: images must come from gcr.io
      pattern:
        spec:
          =(ephemeralContainers): [{image: "gcr.io/*"}]
          containers: [{image: "gcr.io/*"}]
`

// TestPodCreateNamespaceScope: when the only policies are namespaced, the
// API server does not call the webhook for Pods of other namespaces (no
// rule could apply there), and the policy's own namespace stays covered:
// Pod creates, image updates and ephemeral containers.
func TestPodCreateNamespaceScope(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) { te.CRDs = PolicyCRDs("portcullis.dev") }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"team-a", "team-b", "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, teamRegistries) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir()})
	waitBlocked(ctx, t, env, "team-a")

	before := readAPIServerCosts(t, env.Config, "validate-")
	const others = 20
	for i := range others {
		if err := env.Client.Create(ctx, pod(fmt.Sprintf("b-%d", i), "team-b", "docker.io/nginx", false, false)); err != nil {
			t.Fatalf("team-b is not under the policy: %v", err)
		}
	}
	if d := readAPIServerCosts(t, env.Config, "validate-").sub(before); d.validatingCalls != 0 {
		t.Errorf("%d Pod creates in team-b, where no policy applies, made %v webhook calls; want none", others, d.validatingCalls)
	}

	if err := env.Client.Create(ctx, pod("web", "team-a", "gcr.io/app:1", false, false)); err != nil {
		t.Fatalf("compliant pod denied: %v", err)
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cs.CoreV1().Pods("team-a").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dbg := p.DeepCopy()
	dbg.Spec.EphemeralContainers = append(dbg.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "shell", Image: "docker.io/busybox:1"}})
	if _, err := cs.CoreV1().Pods("team-a").UpdateEphemeralContainers(ctx, "web", dbg, metav1.UpdateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "images must come from gcr.io") {
		t.Errorf("ephemeral container from docker.io in team-a: err = %v, want a denial", err)
	}
	p.Spec.Containers[0].Image = "docker.io/nginx"
	if _, err := cs.CoreV1().Pods("team-a").Update(ctx, p, metav1.UpdateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "images must come from gcr.io") {
		t.Errorf("image changed to docker.io in team-a: err = %v, want a denial", err)
	}
}
