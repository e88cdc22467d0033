package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// hangingReceiver is a CloudEvents receiver that can hang: while hanging,
// a request is held open (no answer) until the receiver is released, when
// it is answered and recorded, or until the sender gives up on it.
type hangingReceiver struct {
	ceReceiver
	mu      sync.Mutex
	release chan struct{} // nil: not hanging
	held    atomic.Int64  // requests held open so far
}

func (h *hangingReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	h.mu.Lock()
	release := h.release
	h.mu.Unlock()
	if release != nil {
		h.held.Add(1)
		select {
		case <-release:
		case <-req.Context().Done():
			h.attempts.Add(1)
			return // the sender gave up on this attempt: it retries
		}
	}
	h.ceReceiver.ServeHTTP(w, req)
}

// hang holds every request from now on until resume.
func (h *hangingReceiver) hang() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.release == nil {
		h.release = make(chan struct{})
	}
}

// resume answers the held requests and the next ones.
func (h *hangingReceiver) resume() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.release != nil {
		close(h.release)
		h.release = nil
	}
}

// subjects are the subjects of the violation events received.
func (h *hangingReceiver) violations() map[string]int {
	out := map[string]int{}
	for _, ev := range h.all() {
		if f := strings.Fields(ev); len(f) >= 3 && f[0] == "dev.portcullis.violation.v1" {
			out[f[2]]++
		}
	}
	return out
}

// TestBackgroundEventsNeverSlowAdmission: through the real API server and
// webhook, with a real HTTP CloudEvents receiver that hangs (holds every
// request open) and then answers 503, creating Pods that fail an Audit
// policy takes about as long as with the receiver up (compared as a ratio
// of medians, with a generous bound: delivery waiting on the receiver
// would cost the webhook's 10 s timeout per Pod), and the violation events
// of the Pods created meanwhile all arrive once the receiver is back.
func TestBackgroundEventsNeverSlowAdmission(t *testing.T) {
	env := Start(t, Options{CRDDirectoryPaths: []string{reportCRDs}, Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"apps", "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, teamLabelPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	recv := &hangingReceiver{}
	sink := httptest.NewServer(recv)
	t.Cleanup(sink.Close)
	t.Cleanup(recv.resume) // before sink.Close: it waits for held requests

	ready := make(chan serve.Running, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve.Run(ctx, env.Config, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
			DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir(), Background: true, EventsSink: sink.URL, ClusterName: "test-cluster"},
			func(r serve.Running) { ready <- r })
	}()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start in 60 s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop in 30 s")
		}
	})

	// Admission goes through the webhook once the Audit failure comes
	// back as a warning.
	warnings := &warningCollector{}
	wcfg := rest.CopyConfig(env.Config)
	wcfg.WarningHandler = warnings
	wclient, err := client.New(wcfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	createPod := func(name string) time.Duration {
		t.Helper()
		start := time.Now()
		if err := wclient.Create(ctx, pod(name, "apps", "gcr.io/app:1", true, true)); err != nil {
			t.Fatalf("create Pod %s: %v", name, err)
		}
		created++
		return time.Since(start)
	}
	eventually(t, 30*time.Second, "the webhook's Audit warning", func() (bool, string) {
		createPod(fmt.Sprintf("probe-%d", created))
		return strings.Contains(warnings.all(), "require-team"), warnings.all()
	})

	// medianCreate creates n failing Pods one after the other and returns
	// the median admission time and their names.
	const n = 15
	medianCreate := func(phase string) (time.Duration, []string) {
		var times []time.Duration
		var names []string
		for i := range n {
			name := fmt.Sprintf("%s-%02d", phase, i)
			times = append(times, createPod(name))
			names = append(names, name)
		}
		slices.Sort(times)
		return times[n/2], names
	}
	subjects := func(names []string) []string {
		out := make([]string, len(names))
		for i, name := range names {
			out[i] = "apps/Pod/" + name
		}
		return out
	}
	delivered := func(want []string) (bool, string) {
		got := recv.violations()
		var missing []string
		for _, s := range want {
			if got[s] == 0 {
				missing = append(missing, s)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d of %d missing: %v", len(missing), len(want), missing)
	}

	up, upNames := medianCreate("up")
	eventually(t, 30*time.Second, "violations of the Pods created with the receiver up", func() (bool, string) {
		return delivered(subjects(upNames))
	})

	// The receiver hangs: the sender's deliveries wait on it (up to its
	// attempt timeout), admission must not.
	recv.hang()
	hanging, hangNames := medianCreate("hang")
	eventually(t, 30*time.Second, "a delivery held by the hanging receiver", func() (bool, string) {
		return recv.held.Load() > 0, fmt.Sprint(recv.held.Load(), " held")
	})
	if got := recv.violations(); slices.ContainsFunc(subjects(hangNames), func(s string) bool { return got[s] > 0 }) {
		t.Fatalf("a violation of a Pod created while the receiver hung was received: %v", got)
	}

	// Then it answers 503 Service Unavailable.
	recv.down.Store(true)
	recv.resume()
	down, downNames := medianCreate("down")

	// A second baseline with the receiver up again: the machine's load
	// drifts; the slower of the two baselines is the reference.
	recv.down.Store(false)
	up2, up2Names := medianCreate("up2")
	base := max(up, up2, 50*time.Millisecond)
	t.Logf("median Pod admission: receiver up %s and %s, hanging %s, answering 503 %s",
		up.Round(time.Millisecond), up2.Round(time.Millisecond), hanging.Round(time.Millisecond), down.Round(time.Millisecond))
	for what, d := range map[string]time.Duration{"hanging": hanging, "answering 503": down} {
		if d > 4*base {
			t.Errorf("median Pod admission with the receiver %s is %s, more than 4x the %s with it up", what, d.Round(time.Millisecond), base.Round(time.Millisecond))
		}
	}

	// Nothing was lost: every violation arrives once the receiver is back
	// (retries back off up to 30 s; an attempt times out after 10 s).
	var want []string
	for _, names := range [][]string{hangNames, downNames, up2Names} {
		want = append(want, subjects(names)...)
	}
	eventually(t, 120*time.Second, "the violations of every Pod created while the receiver hung or failed", func() (bool, string) {
		return delivered(want)
	})
}
