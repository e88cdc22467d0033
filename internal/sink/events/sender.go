package events

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options.
const (
	DefaultQueueSize   = 10000
	DefaultWorkers     = 4
	DefaultBackoffBase = 250 * time.Millisecond
	DefaultBackoffCap  = 30 * time.Second
	DefaultTimeout     = 10 * time.Second
)

// maxRetryAfter bounds the wait a receiver's Retry-After can ask for.
const maxRetryAfter = 5 * time.Minute

// Options configure a Sender.
type Options struct {
	// Sink is the receiver's URL (http or https); required.
	Sink string
	// Source is the CloudEvents source: the cluster name; required.
	Source string
	// QueueSize bounds the events waiting for delivery (default
	// DefaultQueueSize); when full, Send drops the oldest.
	QueueSize int
	// Workers is the number of concurrent deliveries (default
	// DefaultWorkers). Events of one subject are delivered one at a time,
	// in order, whatever the number.
	Workers int
	// MaxAttempts gives up on an event after this many failed attempts
	// that would otherwise be retried (network errors, 5xx, 429). 0, the
	// default, retries until the event is delivered or dropped from a full
	// queue: a receiver that is down delays events but loses none up to
	// the queue bound.
	MaxAttempts int
	// BackoffBase and BackoffCap bound the exponential backoff between
	// attempts (defaults DefaultBackoffBase, DefaultBackoffCap); each wait
	// is jittered between half and all of base*2^(attempt-1), capped. A
	// Retry-After answer overrides it (up to 5 minutes).
	BackoffBase, BackoffCap time.Duration
	// Client sends the requests (default: a new http.Client).
	Client *http.Client
	// Timeout bounds one attempt (default DefaultTimeout).
	Timeout time.Duration
	// Logger receives give-ups and drops (default: discard).
	Logger *slog.Logger
	// Registry receives the portcullis_events_* metrics (default: a
	// private registry). Never the global one.
	Registry prometheus.Registerer
}

// Sender delivers Transitions as CloudEvents (HTTP binary mode) at least
// once. Send queues, Start delivers. It is safe for concurrent use.
type Sender struct {
	sink, source  string
	size, workers int
	maxAttempts   int
	base, cap     time.Duration
	timeout       time.Duration
	client        *http.Client
	log           *slog.Logger
	m             *metrics

	wake chan struct{}

	mu      sync.Mutex
	queue   list.List       // of *item, oldest first
	busy    map[string]bool // subjects being delivered
	running bool
	drops   int
}

// item is a queued Transition. elem is nil once it left the queue.
type item struct {
	t        Transition
	subject  string
	elem     *list.Element
	inflight bool
}

// New validates opts and returns a Sender; call Start to deliver.
func New(opts Options) (*Sender, error) {
	u, err := url.Parse(opts.Sink)
	if err != nil {
		return nil, fmt.Errorf("events: sink URL %q: %w", opts.Sink, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("events: sink URL %q: scheme must be http or https", opts.Sink)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("events: sink URL %q: no host", opts.Sink)
	}
	if opts.Source == "" {
		return nil, errors.New("events: no source (the cluster name)")
	}
	s := &Sender{
		sink: u.String(), source: opts.Source,
		size: opts.QueueSize, workers: opts.Workers, maxAttempts: opts.MaxAttempts,
		base: opts.BackoffBase, cap: opts.BackoffCap, timeout: opts.Timeout,
		client: opts.Client, log: opts.Logger,
		busy: map[string]bool{},
	}
	if s.size <= 0 {
		s.size = DefaultQueueSize
	}
	if s.workers <= 0 {
		s.workers = DefaultWorkers
	}
	if s.base <= 0 {
		s.base = DefaultBackoffBase
	}
	if s.cap <= 0 {
		s.cap = DefaultBackoffCap
	}
	if s.cap < s.base {
		s.cap = s.base
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if s.m, err = newMetrics(reg); err != nil {
		return nil, fmt.Errorf("events: register metrics: %w", err)
	}
	s.wake = make(chan struct{}, s.workers)
	return s, nil
}

// Send queues t for delivery and returns at once, whether or not Start
// runs. A zero t.Time is set to now. When the queue is full the oldest
// queued event is dropped (counted in portcullis_events_dropped_total),
// even one being delivered.
func (s *Sender) Send(t Transition) {
	if t.Time.IsZero() {
		t.Time = time.Now()
	}
	it := &item{t: t, subject: t.Subject()}
	s.mu.Lock()
	dropped := 0
	for s.queue.Len() >= s.size {
		old := s.queue.Remove(s.queue.Front()).(*item)
		old.elem = nil
		dropped++
	}
	it.elem = s.queue.PushBack(it)
	s.m.queue.Set(float64(s.queue.Len()))
	first := s.drops == 0 && dropped > 0
	s.drops += dropped
	drops := s.drops
	s.mu.Unlock()
	if dropped > 0 {
		s.m.dropped.Add(float64(dropped))
		if first || drops%1000 == 0 {
			s.log.Warn("CloudEvents queue full: dropping the oldest events", "queueSize", s.size, "droppedSoFar", drops)
		}
	}
	s.signal()
}

// Len returns the number of queued events, including those being
// delivered.
func (s *Sender) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue.Len()
}

// Start delivers queued events until ctx ends, then waits for its
// workers and returns nil; events not yet delivered stay queued (an
// interrupted attempt is repeated by the next Start). It implements
// controller-runtime's manager.Runnable. Start must not run twice at once.
func (s *Sender) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("events: sender already started")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() { s.work(ctx) })
	}
	wg.Wait()
	return nil
}

// signal wakes a waiting worker, if any (never blocks).
func (s *Sender) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Sender) work(ctx context.Context) {
	for ctx.Err() == nil {
		it := s.next()
		if it == nil {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			continue
		}
		s.deliver(ctx, it)
	}
}

// next takes the oldest queued event whose subject is not being
// delivered, or returns nil.
func (s *Sender) next() *item {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.queue.Front(); e != nil; e = e.Next() {
		it := e.Value.(*item)
		if it.inflight || s.busy[it.subject] {
			continue
		}
		it.inflight = true
		s.busy[it.subject] = true
		if e.Next() != nil {
			s.signal() // more may be ready for another worker
		}
		return it
	}
	return nil
}

// done ends the delivery of it: removed from the queue when remove
// (delivered or given up), else left in place for a later attempt.
func (s *Sender) done(it *item, remove bool) {
	s.mu.Lock()
	if remove && it.elem != nil {
		s.queue.Remove(it.elem)
		it.elem = nil
	}
	it.inflight = false
	delete(s.busy, it.subject)
	s.m.queue.Set(float64(s.queue.Len()))
	s.mu.Unlock()
	s.signal() // the subject is free again
}

// dropped reports whether it was dropped from a full queue.
func (s *Sender) dropped(it *item) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return it.elem == nil
}

// outcome is the result of one delivery attempt.
type outcome struct {
	delivered  bool
	invalid    bool   // no request could be made of the event
	retry      string // retry reason; "" when not retryable
	status     int
	retryAfter time.Duration
	err        error
}

func (s *Sender) deliver(ctx context.Context, it *item) {
	ev, err := it.t.Event(s.source)
	if err != nil {
		s.invalid(it, err)
		return
	}
	for attempt := 1; ; attempt++ {
		if s.dropped(it) {
			s.done(it, false)
			return
		}
		o := s.post(ctx, &ev)
		switch {
		case o.delivered:
			s.done(it, true)
			s.m.sent.Inc()
			return
		case ctx.Err() != nil:
			s.done(it, false) // stays queued for the next Start
			return
		case o.invalid:
			s.invalid(it, o.err)
			return
		case o.retry == "":
			s.done(it, true)
			s.m.failed.WithLabelValues(failRejected).Inc()
			s.log.Warn("CloudEvent rejected by the receiver, given up", "subject", it.subject, "type", it.t.Type,
				"id", ev.ID(), "status", o.status, "error", o.err)
			return
		case s.maxAttempts > 0 && attempt >= s.maxAttempts:
			s.done(it, true)
			s.m.failed.WithLabelValues(failAttempts).Inc()
			s.log.Warn("CloudEvent given up after the attempt limit", "subject", it.subject, "type", it.t.Type,
				"id", ev.ID(), "attempts", attempt, "status", o.status, "error", o.err)
			return
		}
		s.m.retries.WithLabelValues(o.retry).Inc()
		wait := s.backoff(attempt)
		if o.retryAfter > 0 {
			wait = min(o.retryAfter, maxRetryAfter)
		}
		s.log.Debug("CloudEvent delivery failed, retrying", "subject", it.subject, "id", ev.ID(),
			"attempt", attempt, "status", o.status, "error", o.err, "wait", wait)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			s.done(it, false)
			return
		case <-timer.C:
		}
	}
}

// invalid gives up it, which cannot be made into a request.
func (s *Sender) invalid(it *item, err error) {
	s.done(it, true)
	s.m.failed.WithLabelValues(failInvalid).Inc()
	s.log.Error("CloudEvent given up: invalid", "subject", it.subject, "type", it.t.Type, "error", err)
}

// backoff is the jittered wait after the given failed attempt (1-based):
// between half and all of base*2^(attempt-1), capped.
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.base
	for i := 1; i < attempt && d < s.cap; i++ {
		d *= 2
	}
	d = min(d, s.cap)
	return d/2 + rand.N(d/2+1)
}

// post makes one delivery attempt of ev.
func (s *Sender) post(ctx context.Context, ev *cloudevents.Event) outcome {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.sink, nil)
	if err != nil {
		return outcome{invalid: true, err: fmt.Errorf("make request: %w", err)}
	}
	if err := cehttp.WriteRequest(binding.WithForceBinary(ctx), binding.ToMessage(ev), req); err != nil {
		return outcome{invalid: true, err: fmt.Errorf("encode event: %w", err)}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return outcome{retry: retryNetwork, err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	o := outcome{status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		o.delivered = true
		return o
	case resp.StatusCode == http.StatusTooManyRequests:
		o.retry = retryThrottled
	case resp.StatusCode >= 500:
		o.retry = retryServer
	}
	o.err = fmt.Errorf("%s: %s", resp.Status, body)
	if o.retry != "" {
		o.retryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return o
}

// retryAfter parses a Retry-After header (seconds or an HTTP date) into a
// wait, 0 when absent or invalid.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
