package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portcullis/portcullis/internal/engine"
)

// request is one request the receiver got.
type request struct {
	header   http.Header
	encoding binding.Encoding
	event    *cloudevents.Event
	err      error
	at       time.Time
}

// receiver is a real CloudEvents HTTP receiver: it parses each request
// with the SDK's HTTP binding and answers what answer says for the n-th
// request (0-based; nil: 200).
type receiver struct {
	answer func(n int, ev *cloudevents.Event) (int, http.Header)

	mu       sync.Mutex
	requests []request
	accepted []cloudevents.Event
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	msg := cehttp.NewMessageFromHttpRequest(r)
	enc := msg.ReadEncoding()
	ev, err := binding.ToEvent(r.Context(), msg)
	rc.mu.Lock()
	n := len(rc.requests)
	rc.requests = append(rc.requests, request{header: r.Header.Clone(), encoding: enc, event: ev, err: err, at: time.Now()})
	rc.mu.Unlock()
	code, h := http.StatusOK, http.Header(nil)
	if err != nil {
		code = http.StatusBadRequest
	} else if rc.answer != nil {
		code, h = rc.answer(n, ev)
	}
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
	if code/100 == 2 {
		rc.mu.Lock()
		rc.accepted = append(rc.accepted, *ev)
		rc.mu.Unlock()
	}
}

func (rc *receiver) snapshot() ([]request, []cloudevents.Event) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.requests...), append([]cloudevents.Event(nil), rc.accepted...)
}

// serve serves rc on ln until the test ends.
func serve(t *testing.T, ln net.Listener, rc http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
}

// startReceiver serves rc on a new local port and returns its URL.
func startReceiver(t *testing.T, rc http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, rc)
	return "http://" + ln.Addr().String() + "/events"
}

// closedAddr returns a local address nothing listens on (connection
// refused) that a later listener can take.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

type testSender struct {
	*Sender
	reg    *prometheus.Registry
	client *http.Client
	cancel context.CancelFunc
	done   chan error
}

// newSender makes a Sender with fast backoff; opts.Sink and others as
// given.
func newSender(t *testing.T, opts Options) *testSender {
	t.Helper()
	ts := &testSender{reg: prometheus.NewRegistry(), client: &http.Client{Transport: &http.Transport{}}}
	if opts.Source == "" {
		opts.Source = "test-cluster"
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase, opts.BackoffCap = 5*time.Millisecond, 40*time.Millisecond
	}
	opts.Registry, opts.Client = ts.reg, ts.client
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts.Sender = s
	t.Cleanup(func() {
		ts.stop(t)
		ts.client.CloseIdleConnections()
	})
	return ts
}

func (ts *testSender) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel, ts.done = cancel, make(chan error, 1)
	go func() { ts.done <- ts.Start(ctx) }()
}

// stop cancels Start and waits for it to return.
func (ts *testSender) stop(t *testing.T) {
	t.Helper()
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("Start: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return 10s after its context ended")
	}
	ts.cancel = nil
}

func (ts *testSender) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	switch name {
	case "sent":
		return testutil.ToFloat64(ts.m.sent)
	case "dropped":
		return testutil.ToFloat64(ts.m.dropped)
	case "failed":
		return testutil.ToFloat64(ts.m.failed.WithLabelValues(labels...))
	case "retries":
		return testutil.ToFloat64(ts.m.retries.WithLabelValues(labels...))
	case "queue":
		return testutil.ToFloat64(ts.m.queue)
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// eventually polls cond for up to 20 s (a generous bound, not a timing
// target).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// transition is the n-th test transition of the subject team-<ns>/Pod/web.
func transition(ns, n int) Transition {
	r := res("require-signed", "check-image", engine.StatusFail)
	r.Resource.Namespace = fmt.Sprintf("team-%d", ns)
	r.Message = strconv.Itoa(n)
	r.Path = "/spec/containers/0/image/"
	r.Category = "Supply chain"
	return Transition{Type: TypeViolation, Result: r, UID: fmt.Sprintf("uid-%d", ns), Images: imgs,
		Time: t0.Add(time.Duration(n) * time.Second)}
}

func seq(t *testing.T, ev cloudevents.Event) int {
	t.Helper()
	var d Data
	if err := json.Unmarshal(ev.Data(), &d); err != nil {
		t.Fatalf("event data: %v", err)
	}
	n, err := strconv.Atoi(d.Message)
	if err != nil {
		t.Fatalf("event message %q", d.Message)
	}
	return n
}

func TestSendBinaryMode(t *testing.T) {
	rc := &receiver{}
	ts := newSender(t, Options{Sink: startReceiver(t, rc), Source: "prod-eu-1"})
	ts.start(t)

	v := transition(1, 7)
	ts.Send(v)
	ns := Transition{Type: TypeResolution, UID: "ns-uid", Time: t0, Reason: ReasonResourceDeleted,
		Result: engine.Result{Policy: "ns-labels", PolicyKind: engine.KindClusterPolicy, Rule: "team", Status: engine.StatusSkip,
			Resource: engine.Resource{APIVersion: "v1", Kind: "Namespace", Name: "team-1"}}}
	ts.Send(ns)
	eventually(t, "2 events sent", func() bool { return ts.metric(t, "sent") == 2 })

	reqs, _ := ts.snapshot(rc)
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	byType := map[string]request{}
	for _, r := range reqs {
		if r.err != nil {
			t.Fatalf("receiver could not parse the event: %v", r.err)
		}
		if r.encoding != binding.EncodingBinary {
			t.Errorf("encoding %v, want binary", r.encoding)
		}
		byType[r.header.Get("Ce-Type")] = r
	}
	r := byType[TypeViolation]
	for h, want := range map[string]string{
		"Ce-Specversion": "1.0",
		"Ce-Type":        TypeViolation,
		"Ce-Source":      "prod-eu-1",
		"Ce-Subject":     "team-1/Pod/web",
		"Ce-Id":          v.ID(),
		"Ce-Time":        "2026-12-01T10:00:07Z",
		"Content-Type":   "application/json",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	var d map[string]any
	if err := json.Unmarshal(r.event.Data(), &d); err != nil {
		t.Fatalf("data is not JSON: %v: %s", err, r.event.Data())
	}
	want := `map[category:Supply chain images:[map[digest:sha256:0000000000000000000000000000000000000000000000000000000000000001 ref:ghcr.io/acme/web:1.2]] message:7 path:/spec/containers/0/image/ policy:require-signed policyKind:ClusterPolicy resource:map[apiVersion:v1 kind:Pod name:web namespace:team-1 uid:uid-1] rule:check-image severity:high status:fail]`
	if got := fmt.Sprint(d); got != want {
		t.Errorf("data\n got %s\nwant %s", got, want)
	}

	r = byType[TypeResolution]
	if got := r.header.Get("Ce-Subject"); got != "Namespace/team-1" {
		t.Errorf("cluster-scoped subject %q", got)
	}
	var rd Data
	if err := json.Unmarshal(r.event.Data(), &rd); err != nil {
		t.Fatal(err)
	}
	if rd.Reason != ReasonResourceDeleted || rd.Status != engine.StatusSkip || rd.Resource.UID != "ns-uid" || rd.Resource.Namespace != "" {
		t.Errorf("resolution data %+v", rd)
	}
	if ts.Len() != 0 || ts.metric(t, "queue") != 0 {
		t.Errorf("queue %d (gauge %v) after delivery", ts.Len(), ts.metric(t, "queue"))
	}
}

// snapshot is rc.snapshot; a method here to read nicely in tests.
func (ts *testSender) snapshot(rc *receiver) ([]request, []cloudevents.Event) { return rc.snapshot() }

func TestReceiverDownThenUp(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			addr := closedAddr(t)
			ts := newSender(t, Options{Sink: "http://" + addr + "/", Workers: workers})
			ts.start(t)
			const subjects, per = 5, 20
			for n := range per {
				for s := range subjects {
					ts.Send(transition(s, n))
				}
			}
			eventually(t, "connection refused retries", func() bool { return ts.metric(t, "retries", retryNetwork) >= 3 })
			if ts.metric(t, "sent") != 0 || ts.Len() != subjects*per {
				t.Fatalf("receiver down: sent %v, queued %d", ts.metric(t, "sent"), ts.Len())
			}

			rc := &receiver{}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("listen again on %s: %v", addr, err)
			}
			serve(t, ln, rc)
			eventually(t, "every event delivered", func() bool { return ts.metric(t, "sent") == subjects*per })

			_, got := rc.snapshot()
			if len(got) != subjects*per {
				t.Fatalf("receiver accepted %d events, want %d", len(got), subjects*per)
			}
			next := map[string]int{}
			for i, ev := range got {
				n := seq(t, ev)
				if n != next[ev.Subject()] {
					t.Fatalf("event %d: subject %s seq %d, want %d (order per subject)", i, ev.Subject(), n, next[ev.Subject()])
				}
				next[ev.Subject()]++
				if workers == 1 && i/subjects != n {
					t.Fatalf("event %d has seq %d: one worker keeps the global order", i, n)
				}
			}
			if ts.metric(t, "dropped") != 0 || ts.metric(t, "failed", failRejected) != 0 {
				t.Errorf("dropped %v, failed %v", ts.metric(t, "dropped"), ts.metric(t, "failed", failRejected))
			}
		})
	}
}

func TestRetryServerErrorAndThrottle(t *testing.T) {
	rc := &receiver{answer: func(n int, _ *cloudevents.Event) (int, http.Header) {
		switch n {
		case 0:
			return http.StatusInternalServerError, nil
		case 1:
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}
		case 2:
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusAccepted, nil
	}}
	ts := newSender(t, Options{Sink: startReceiver(t, rc)})
	ts.start(t)
	tr := transition(1, 1)
	ts.Send(tr)
	eventually(t, "delivery", func() bool { return ts.metric(t, "sent") == 1 })

	reqs, got := rc.snapshot()
	if len(reqs) != 4 || len(got) != 1 {
		t.Fatalf("%d attempts, %d accepted; want 4 attempts, 1 accepted", len(reqs), len(got))
	}
	for i, r := range reqs {
		if id := r.header.Get("Ce-Id"); id != tr.ID() {
			t.Errorf("attempt %d has id %q, want the same id %q on every attempt", i, id, tr.ID())
		}
	}
	// Retry-After: 1 is honoured (the backoff alone is at most 40 ms).
	if gap := reqs[2].at.Sub(reqs[1].at); gap < 900*time.Millisecond {
		t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
	}
	if ts.metric(t, "retries", retryServer) != 2 || ts.metric(t, "retries", retryThrottled) != 1 {
		t.Errorf("retries: server_error %v, throttled %v", ts.metric(t, "retries", retryServer), ts.metric(t, "retries", retryThrottled))
	}
}

func TestRejectedGivenUp(t *testing.T) {
	rc := &receiver{answer: func(_ int, ev *cloudevents.Event) (int, http.Header) {
		if ev.Subject() == "team-1/Pod/web" {
			return http.StatusBadRequest, nil
		}
		return http.StatusOK, nil
	}}
	ts := newSender(t, Options{Sink: startReceiver(t, rc)})
	ts.start(t)
	ts.Send(transition(1, 1))
	ts.Send(transition(2, 2))
	eventually(t, "one rejected, one sent", func() bool {
		return ts.metric(t, "failed", failRejected) == 1 && ts.metric(t, "sent") == 1
	})
	// Give a wrong retry a chance to show.
	time.Sleep(100 * time.Millisecond)
	reqs, _ := rc.snapshot()
	if len(reqs) != 2 {
		t.Errorf("%d requests, want 2: a 400 is not retried", len(reqs))
	}
	if ts.Len() != 0 {
		t.Errorf("%d events still queued", ts.Len())
	}
}

func TestMaxAttempts(t *testing.T) {
	rc := &receiver{answer: func(int, *cloudevents.Event) (int, http.Header) { return http.StatusBadGateway, nil }}
	ts := newSender(t, Options{Sink: startReceiver(t, rc), MaxAttempts: 3})
	ts.start(t)
	ts.Send(transition(1, 1))
	eventually(t, "given up", func() bool { return ts.metric(t, "failed", failAttempts) == 1 })
	if reqs, _ := rc.snapshot(); len(reqs) != 3 {
		t.Errorf("%d attempts, want 3", len(reqs))
	}
}

func TestQueueBoundDropsOldest(t *testing.T) {
	addr := closedAddr(t)
	ts := newSender(t, Options{Sink: "http://" + addr, QueueSize: 3, Workers: 1})
	ts.start(t)
	for n := range 5 {
		ts.Send(transition(1, n))
	}
	if d := ts.metric(t, "dropped"); d != 2 {
		t.Fatalf("dropped %v, want 2", d)
	}
	if ts.Len() != 3 || ts.metric(t, "queue") != 3 {
		t.Fatalf("queue %d (gauge %v), want 3", ts.Len(), ts.metric(t, "queue"))
	}
	eventually(t, "retries while down", func() bool { return ts.metric(t, "retries", retryNetwork) >= 2 })

	rc := &receiver{}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	serve(t, ln, rc)
	eventually(t, "the 3 newest delivered", func() bool { return ts.metric(t, "sent") == 3 })
	time.Sleep(50 * time.Millisecond)
	_, got := rc.snapshot()
	var seqs []int
	for _, ev := range got {
		seqs = append(seqs, seq(t, ev))
	}
	if fmt.Sprint(seqs) != "[2 3 4]" {
		t.Fatalf("delivered %v, want [2 3 4]", seqs)
	}
}

func TestSendNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	stalled := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	url := startReceiver(t, stalled)
	t.Cleanup(func() { close(release) })
	ts := newSender(t, Options{Sink: url, Timeout: time.Hour})
	ts.start(t)

	const total = 100000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := range total {
			ts.Send(transition(n%50, n))
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("sending 100,000 events to a stalled receiver did not return within 30 s")
	}
	if ts.Len() != DefaultQueueSize {
		t.Errorf("queued %d, want the bound %d", ts.Len(), DefaultQueueSize)
	}
	if d := ts.metric(t, "dropped"); d != total-DefaultQueueSize {
		t.Errorf("dropped %v, want %d", d, total-DefaultQueueSize)
	}
	if ts.metric(t, "sent") != 0 {
		t.Errorf("sent %v to a stalled receiver", ts.metric(t, "sent"))
	}
}

func TestStartReturnKeepsQueueNoLeak(t *testing.T) {
	addr := closedAddr(t)
	ts := newSender(t, Options{Sink: "http://" + addr})
	before := runtime.NumGoroutine()

	ts.start(t)
	for n := range 3 {
		ts.Send(transition(n, n))
	}
	eventually(t, "attempts", func() bool { return ts.metric(t, "retries", retryNetwork) >= 3 })
	ts.stop(t)
	if ts.Len() != 3 {
		t.Fatalf("queue %d after Start returned, want the 3 undelivered events", ts.Len())
	}
	ts.client.CloseIdleConnections()
	eventually(t, "delivery goroutines to end", func() bool { return runtime.NumGoroutine() <= before })

	// Sent while stopped, then delivered by the next Start.
	ts.Send(transition(9, 9))
	rc := &receiver{}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	serve(t, ln, rc)
	ts.start(t)
	eventually(t, "the kept events delivered", func() bool { return ts.metric(t, "sent") == 4 })
}

func TestStartTwice(t *testing.T) {
	ts := newSender(t, Options{Sink: "http://" + closedAddr(t)})
	ts.start(t)
	eventually(t, "Start running", func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return ts.running
	})
	if err := ts.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Fatalf("second Start: %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	for sink, want := range map[string]string{
		"":                      "scheme must be http or https",
		"ftp://example.com/x":   "scheme must be http or https",
		"example.com/events":    "scheme must be http or https",
		"http://":               "no host",
		"http://exa mple.com/x": "invalid character",
	} {
		_, err := New(Options{Sink: sink, Source: "c"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(Sink: %q) = %v, want an error containing %q", sink, err, want)
		}
	}
	if _, err := New(Options{Sink: "https://example.com"}); err == nil || !strings.Contains(err.Error(), "source") {
		t.Errorf("no source: %v", err)
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Sink: "https://example.com", Source: "c", Registry: reg}); err != nil {
		t.Fatal(err)
	}
	var are prometheus.AlreadyRegisteredError
	if _, err := New(Options{Sink: "https://example.com", Source: "c", Registry: reg}); !errors.As(err, &are) {
		t.Errorf("second Sender on one registry: %v", err)
	}
	s, err := New(Options{Sink: "https://example.com", Source: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if s.size != DefaultQueueSize || s.workers != DefaultWorkers || s.base != DefaultBackoffBase || s.cap != DefaultBackoffCap {
		t.Errorf("defaults: size %d workers %d base %v cap %v", s.size, s.workers, s.base, s.cap)
	}
}

func TestBackoffAndRetryAfter(t *testing.T) {
	s := &Sender{base: 250 * time.Millisecond, cap: 30 * time.Second}
	for attempt, full := range map[int]time.Duration{1: 250 * time.Millisecond, 2: 500 * time.Millisecond, 5: 4 * time.Second, 8: 30 * time.Second, 60: 30 * time.Second} {
		for range 50 {
			if d := s.backoff(attempt); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "0": 0, "-1": 0, "soon": 0, "99999": maxRetryAfter,
		"Tue, 01 Dec 2026 10:00:30 GMT": 30 * time.Second, "Tue, 01 Dec 2026 09:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
