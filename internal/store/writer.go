package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of WriterOptions.
const (
	DefaultQueueSize     = 200000
	DefaultBatchSize     = 20000
	DefaultFlushInterval = time.Second
	DefaultPruneInterval = time.Hour
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	// QueueSize bounds the ops waiting to be written (default
	// DefaultQueueSize); past it the oldest records are dropped.
	QueueSize int
	// BatchSize is the most ops one transaction writes (default
	// DefaultBatchSize).
	BatchSize int
	// FlushInterval is how often queued ops are written (default
	// DefaultFlushInterval); a full batch is written at once.
	FlushInterval time.Duration
	// Retention is how long history is kept (default DefaultRetention;
	// negative: forever). PruneInterval is how often it is pruned
	// (default DefaultPruneInterval).
	Retention, PruneInterval time.Duration
	// Registry receives the metrics (nil: not registered).
	Registry prometheus.Registerer
	// Logger logs (default: discarded).
	Logger *slog.Logger
}

// Writer writes to a Store off the caller's path: Record queues and
// returns at once, Start's flusher writes the queue in batches, one
// transaction each.
type Writer struct {
	store   Store
	opts    WriterOptions
	log     *slog.Logger
	metrics *writerMetrics
	wake    chan struct{}

	mu      sync.Mutex
	queue   [][]Op // records in arrival order; one record is written whole
	queued  int    // ops in queue
	dropped int64  // since the last log line

	flushMu sync.Mutex // one flush at a time
}

// NewWriter returns a Writer for s; nothing is written until Start or
// Flush.
func NewWriter(s Store, o WriterOptions) (*Writer, error) {
	if s == nil {
		return nil, errors.New("store: NewWriter needs a store")
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.PruneInterval <= 0 {
		o.PruneInterval = DefaultPruneInterval
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newWriterMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	return &Writer{store: s, opts: o, log: log.With("component", "store"), metrics: m, wake: make(chan struct{}, 1)}, nil
}

// Record queues ops to be written together, in one transaction. It never
// blocks: when the queue is full the oldest records are dropped (counted
// in portcullis_store_dropped_total and logged at the next flush).
func (w *Writer) Record(ops ...Op) {
	if len(ops) == 0 {
		return
	}
	w.mu.Lock()
	w.queue = append(w.queue, ops)
	w.queued += len(ops)
	for w.queued > w.opts.QueueSize && len(w.queue) > 1 {
		n := len(w.queue[0])
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.queued -= n
		w.dropped += int64(n)
		w.metrics.dropped.Add(float64(n))
	}
	full := w.queued >= w.opts.BatchSize
	w.metrics.queue.Set(float64(w.queued))
	w.mu.Unlock()
	if full {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Queued returns the number of ops waiting to be written.
func (w *Writer) Queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queued
}

// take removes up to BatchSize ops (whole records) from the queue.
func (w *Writer) take() (*Batch, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := &Batch{}
	n := 0
	for n < len(w.queue) && (len(b.Ops) == 0 || len(b.Ops)+len(w.queue[n]) <= w.opts.BatchSize) {
		b.Ops = append(b.Ops, w.queue[n]...)
		w.queue[n] = nil
		n++
	}
	w.queue = w.queue[n:]
	w.queued -= len(b.Ops)
	w.metrics.queue.Set(float64(w.queued))
	d := w.dropped
	w.dropped = 0
	return b, d
}

// putBack returns a batch that could not be written to the front of the
// queue (it is dropped first if the queue overflows).
func (w *Writer) putBack(b *Batch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = append([][]Op{b.Ops}, w.queue...)
	w.queued += len(b.Ops)
	for w.queued > w.opts.QueueSize && len(w.queue) > 1 {
		n := len(w.queue[0])
		w.queue = w.queue[1:]
		w.queued -= n
		w.dropped += int64(n)
		w.metrics.dropped.Add(float64(n))
	}
	w.metrics.queue.Set(float64(w.queued))
}

// Flush writes everything queued now, batch by batch. On an error the
// failed batch goes back to the front of the queue.
func (w *Writer) Flush(ctx context.Context) error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	for {
		b, dropped := w.take()
		if dropped > 0 {
			w.log.Warn("findings store queue full: oldest records dropped", "ops", dropped)
		}
		if len(b.Ops) == 0 {
			return nil
		}
		start := time.Now()
		err := w.store.Write(ctx, b)
		w.metrics.duration.Observe(time.Since(start).Seconds())
		if err != nil {
			w.metrics.batches.WithLabelValues("failed").Inc()
			w.putBack(b)
			return fmt.Errorf("store: write %d records: %w", len(b.Ops), err)
		}
		w.metrics.batches.WithLabelValues("written").Inc()
		w.metrics.ops.Add(float64(len(b.Ops)))
	}
}

// Prune deletes the history older than the retention (nothing when
// retention is negative).
func (w *Writer) Prune(ctx context.Context, now time.Time) (PruneStats, error) {
	if w.opts.Retention < 0 {
		return PruneStats{}, nil
	}
	st, err := w.store.Prune(ctx, now.Add(-w.opts.Retention))
	if err != nil {
		return st, err
	}
	w.metrics.pruned.WithLabelValues("transitions").Add(float64(st.Transitions))
	w.metrics.pruned.WithLabelValues("daily").Add(float64(st.Daily))
	w.metrics.pruned.WithLabelValues("scans").Add(float64(st.Scans))
	w.metrics.pruned.WithLabelValues("verdicts").Add(float64(st.Verdicts))
	w.metrics.pruned.WithLabelValues("resources").Add(float64(st.Resources))
	return st, nil
}

// NeedLeaderElection: the writer runs with the background controller, on
// the leader.
func (w *Writer) NeedLeaderElection() bool { return true }

// Start flushes every FlushInterval (or as soon as a batch is full) and
// prunes every PruneInterval, until ctx ends; then it writes what is
// queued (bounded by ten seconds) and returns. It implements
// manager.Runnable.
func (w *Writer) Start(ctx context.Context) error {
	tick := time.NewTicker(w.opts.FlushInterval)
	defer tick.Stop()
	prune := time.NewTicker(w.opts.PruneInterval)
	defer prune.Stop()
	w.prune(ctx)
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := w.Flush(final); err != nil {
				w.log.Error("findings store: final flush", "error", err, "lost", w.Queued())
			}
			return nil
		case <-prune.C:
			w.prune(ctx)
			continue
		case <-tick.C:
		case <-w.wake:
		}
		if err := w.Flush(ctx); err != nil {
			if ctx.Err() != nil {
				continue
			}
			backoff = min(max(2*backoff, w.opts.FlushInterval), time.Minute)
			w.log.Warn("findings store: write failed, retrying", "error", err, "retry", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
	}
}

func (w *Writer) prune(ctx context.Context) {
	st, err := w.Prune(ctx, time.Now())
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("findings store: prune", "error", err)
		}
		return
	}
	if st != (PruneStats{}) {
		w.log.Info("findings store: pruned history", "retention", w.opts.Retention.String(), "transitions", st.Transitions,
			"scans", st.Scans, "resources", st.Resources)
	}
}

type writerMetrics struct {
	queue    prometheus.Gauge
	dropped  prometheus.Counter
	batches  *prometheus.CounterVec
	ops      prometheus.Counter
	duration prometheus.Histogram
	pruned   *prometheus.CounterVec
}

func newWriterMetrics(reg prometheus.Registerer) (*writerMetrics, error) {
	m := &writerMetrics{
		queue: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "portcullis", Subsystem: "store", Name: "queue_length",
			Help: "Findings-store records (ops) waiting to be written."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "portcullis", Subsystem: "store", Name: "dropped_total",
			Help: "Findings-store records dropped unwritten because the queue was full (the oldest go first)."}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "portcullis", Subsystem: "store", Name: "batches_total",
			Help: "Findings-store write transactions, by result: written or failed (retried)."}, []string{"result"}),
		ops: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "portcullis", Subsystem: "store", Name: "records_written_total",
			Help: "Findings-store records (observations, deletions, transitions, policies, scans) written."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "portcullis", Subsystem: "store", Name: "write_duration_seconds",
			Help: "Time to write one findings-store batch.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}),
		pruned: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "portcullis", Subsystem: "store", Name: "pruned_total",
			Help: "Findings-store rows deleted by retention, by table."}, []string{"table"}),
	}
	m.batches.WithLabelValues("written")
	m.batches.WithLabelValues("failed")
	if reg != nil {
		for _, c := range []prometheus.Collector{m.queue, m.dropped, m.batches, m.ops, m.duration, m.pruned} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("store: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
