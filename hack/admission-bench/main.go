// Command admission-bench serves the admission webhook handler over TLS on
// a loopback address with the 17 built-in Pod Security Standards rules
// (11 pss-baseline, 6 pss-restricted) loaded, as a target for
// hack/loadgen. It writes the self-generated CA bundle to -ca-out so the
// load generator can verify the server.
//
// Usage:
//
//	go run ./hack/admission-bench -addr 127.0.0.1:8443 -ca-out /tmp/portcullis-ca.crt
//	go run ./hack/loadgen -url 'https://127.0.0.1:8443/validate?timeout=10s' -ca /tmp/portcullis-ca.crt -rate 1000 -duration 30s
//
// On exit it prints the server's CPU time (user+sys) per /validate request
// and the handler's own latency percentiles (from the handler starting to
// returning, on the server: no network, no queueing before the request's
// goroutine runs), next to what the load generator measures from outside.
//
// It stops on SIGINT/SIGTERM or after -max-duration. With -cpuprofile it
// writes a CPU profile of the whole serving time, with -memprofile an
// allocation profile (pprof's alloc_space/alloc_objects, and inuse_space
// for the heap) when it stops, for `go tool pprof`.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/admission"
	"github.com/portcullis/portcullis/internal/attest"
	"github.com/portcullis/portcullis/internal/controls"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "admission-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8443", "listen address (loopback only)")
	caOut := flag.String("ca-out", "", "write the CA bundle (PEM) to this file")
	action := flag.String("action", policy.Enforce, "failure action of the loaded policies: Enforce or Audit")
	maxDuration := flag.Duration("max-duration", time.Hour, "stop after this long")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the serving time to this file")
	memProfile := flag.String("memprofile", "", "write an allocation profile to this file on exit")
	http2 := flag.Bool("http2", false, "offer HTTP/2 as well as HTTP/1.1 (serve --webhook-http2)")
	flag.Parse()

	if err := loopback(*addr); err != nil {
		return err
	}
	if *action != policy.Enforce && *action != policy.Audit {
		return fmt.Errorf("-action %q: want Enforce or Audit", *action)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	set, err := loadPSS(*action)
	if err != nil {
		return err
	}
	h, err := admission.NewHandler(admission.HandlerOptions{
		Policies: admission.NewAtomicSource(set),
		Logger:   logger,
		Registry: prometheus.NewRegistry(),
	})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "admission-bench-certs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var served atomic.Int64
	timings := &handlerTimes{}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != admission.PathValidate {
			h.ServeHTTP(w, r)
			return
		}
		if served.Load() == 0 {
			timings.first()
		}
		start := time.Now()
		h.ServeHTTP(w, r)
		timings.add(time.Since(start))
		served.Add(1)
	})
	srv, err := admission.NewServer(counted, admission.ServerOptions{
		Addr: *addr, CertDir: dir, DNSNames: []string{"127.0.0.1", "localhost"}, Logger: logger, HTTP2: *http2,
		OnCABundle: func(b []byte) {
			if *caOut == "" {
				return
			}
			if err := os.WriteFile(*caOut, b, 0o644); err != nil {
				logger.Error("writing CA bundle", "error", err)
			}
		},
	})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxDuration)
	defer cancel()
	rules := 0
	for _, p := range set.Policies {
		rules += len(p.Spec.Spec.Rules)
	}
	fmt.Fprintf(os.Stderr, "serving https://%s/validate: %d policies, %d rules (%d with autogen), action %s; CA bundle %s\n",
		srv.Addr(), set.Len(), rules, set.NumRules(), *action, orStdout(*caOut))
	if *caOut == "" {
		fmt.Print(string(bytes.TrimSpace(srv.CABundle())) + "\n")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		defer func() {
			if err := writeHeapProfile(*memProfile); err != nil {
				logger.Error("writing the allocation profile", "error", err)
			}
		}()
	}
	defer func() { reportUsage(served.Load(), timings) }()
	return srv.Run(ctx)
}

// reportUsage prints the process's CPU time (user and system) per
// /validate request served, its peak RSS and the handler's latency
// percentiles: CPU time and RSS are figures that a shared, noisy machine
// changes much less than latency.
func reportUsage(served int64, t *handlerTimes) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return
	}
	cpu := cpuTime(&ru)
	per := time.Duration(0)
	if served > 0 {
		per = cpu / time.Duration(served)
	}
	fmt.Fprintf(os.Stderr, "served %d /validate requests; CPU user+sys %s (%s per request, start-up included); peak RSS %.1f MiB\n",
		served, cpu.Round(time.Millisecond), per.Round(time.Microsecond), float64(ru.Maxrss)/1024)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.d) == 0 {
		return
	}
	user := time.Duration(ru.Utime.Nano()) - t.start.user
	sys := time.Duration(ru.Stime.Nano()) - t.start.sys
	n := time.Duration(len(t.d))
	fmt.Fprintf(os.Stderr, "from the first request: CPU %s per request (user %s, sys %s)\n",
		((user + sys) / n).Round(time.Microsecond), (user / n).Round(time.Microsecond), (sys / n).Round(time.Microsecond))
	slices.Sort(t.d)
	q := func(p float64) time.Duration {
		return t.d[min(len(t.d)-1, int(p*float64(len(t.d))))].Round(time.Microsecond)
	}
	fmt.Fprintf(os.Stderr, "handler time (server side, %d requests): p50 %s  p90 %s  p99 %s  max %s\n",
		len(t.d), q(0.50), q(0.90), q(0.99), t.d[len(t.d)-1].Round(time.Microsecond))
}

// handlerTimes records how long each /validate request spent in the
// handler, and the process's CPU time when the first one arrived.
type handlerTimes struct {
	mu    sync.Mutex
	d     []time.Duration
	start struct{ user, sys time.Duration }
	once  sync.Once
}

func (t *handlerTimes) first() {
	t.once.Do(func() {
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
			t.mu.Lock()
			t.start.user, t.start.sys = time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
			t.mu.Unlock()
		}
	})
}

func (t *handlerTimes) add(d time.Duration) {
	t.mu.Lock()
	t.d = append(t.d, d)
	t.mu.Unlock()
}

func cpuTime(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeHeapProfile writes the heap profile (allocations since start and
// what is in use after a GC) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func orStdout(s string) string {
	if s == "" {
		return "on standard output"
	}
	return "in " + s
}

// loopback refuses addresses that are not on the loopback interface.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("-addr must be a loopback address (127.0.0.1, ::1 or localhost)")
}

// loadPSS compiles the 17 built-in PSS rules with the given failure action.
func loadPSS(action string) (*policy.Set, error) {
	files, err := controls.Files(controls.SetPSSBaseline, controls.SetPSSRestricted)
	if err != nil {
		return nil, err
	}
	var docs []manifest.Document
	for _, f := range files {
		data := bytes.ReplaceAll(f.Data, []byte("validationFailureAction: Audit"), []byte("validationFailureAction: "+action))
		d, err := manifest.Decode("builtin:"+f.Path, data)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return policy.Compile(docs, policy.Options{Attestations: attest.Check})
}
