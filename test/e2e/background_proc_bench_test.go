package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBackgroundServeProcess10k measures what issue 12's memory goal
// is about: `portcullis serve` as its own process (the built binary, out
// of cluster against the test API server, as TestAdmperfServeFootprint
// runs it), with the background controller on, evaluating
// PORTCULLIS_BENCH_PODS Pods (default 10,000) against the built-in PSS +
// runbook policies. BenchmarkBackground10k runs serve inside the test
// process, whose RSS also holds the harness and the test binary's pages.
//
// /proc/PID/status (VmRSS, RssAnon, RssFile) and the CPU time of serve
// are sampled every 50 ms through four phases: start-up (from exec until
// the first reports are complete: every Pod evaluated and the reports
// carrying the failing results serve's violations gauge counts), idle (30
// s), a policy edit (another severity for one policy: until every Pod was
// evaluated again and the reports carry it) and idle again (30 s). For
// each phase it logs the sample with the largest VmRSS (with its RssAnon
// and RssFile), the largest RssAnon and RssFile, the last sample and the
// CPU seconds of serve; the kernel's VmHWM at the end.
//
// serve runs with the chart's flags that matter here (background on, no
// memory limit: the chart sets no resources.limits, so neither a Go memory
// limit nor GOGC) and the environment of a container without GOMEMLIMIT
// or GOGC. PORTCULLIS_BENCH_SERVE_ARGS adds flags (space-separated, e.g.
// `--memory-limit=135Mi`, what serve chooses under a 150Mi container
// limit, with GOGC 200), PORTCULLIS_BENCH_SERVE_ENV environment variables
// (NAME=VALUE, space-separated), PORTCULLIS_BENCH_BIN runs that binary
// instead of building ./cmd/portcullis (to compare two builds on the same
// data), PORTCULLIS_BENCH_SERVE_LOG=FILE keeps serve's output (e.g. with
// PORTCULLIS_BENCH_SERVE_ENV=GODEBUG=gctrace=1).
//
//	KUBEBUILDER_ASSETS=$(hack/envtest/build.sh | tail -1) PORTCULLIS_E2E=1 \
//	  go test -run '^$' -bench BenchmarkBackgroundServeProcess10k -benchtime 1x -timeout 60m ./test/e2e/
func BenchmarkBackgroundServeProcess10k(b *testing.B) {
	bin := os.Getenv("PORTCULLIS_BENCH_BIN")
	if bin == "" {
		var err error
		if bin, err = buildPortcullis(b); err != nil {
			b.Fatal(err)
		}
	}
	env, pods, _ := seedBackgroundBench(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	kubeconfig := adminKubeconfig(b, env)
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	args := []string{"serve", "--kubeconfig", kubeconfig, "--webhook-url", fmt.Sprintf("https://127.0.0.1:%d", freePort(b)),
		"--metrics-addr", metrics, "--policy-group", "kyverno.io", "--namespace", "portcullis-system", "--background=true"}
	args = append(args, strings.Fields(os.Getenv("PORTCULLIS_BENCH_SERVE_ARGS"))...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "GOMEMLIMIT=", "GOGC="), strings.Fields(os.Getenv("PORTCULLIS_BENCH_SERVE_ENV"))...)
	logPath := os.Getenv("PORTCULLIS_BENCH_SERVE_LOG")
	if logPath == "" {
		logPath = filepath.Join(b.TempDir(), "serve.log")
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	follower := followReports(ctx, b, env.Config)
	b.ResetTimer()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		if b.Failed() {
			data, _ := os.ReadFile(logPath)
			if len(data) > 20000 {
				data = data[len(data)-20000:]
			}
			b.Logf("serve output (end):\n%s", data)
		}
	}()
	sampler := sampleProcess(ctx, cmd.Process.Pid, "start-up")
	scrape := func() serveMetrics {
		m, err := scrapeServe(ctx, "http://"+metrics+"/metrics")
		if err != nil {
			return serveMetrics{}
		}
		return m
	}
	// settle waits until done holds and the reports carry, namespace by
	// namespace, the failing results serve's violations gauge counts.
	settle := func(what string, since time.Time, done func(serveMetrics) bool) time.Duration {
		for {
			select {
			case err := <-exited:
				exited <- err
				b.Fatalf("%s: serve exited: %v", what, err)
			default:
			}
			_, _, _, last := follower.totals()
			if m := scrape(); m.ok && done(m) && maps.Equal(follower.failedByNamespace(), m.violationsByNamespace) {
				return last.Sub(since)
			}
			if time.Since(since) > 20*time.Minute {
				b.Fatalf("%s: not done after 20 minutes; failing results by namespace: reports %v, serve %v",
					what, follower.failedByNamespace(), scrape().violationsByNamespace)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	initial := settle("first reports", started, func(m serveMetrics) bool {
		return m.podEvaluations >= float64(pods) && m.resources >= float64(pods)
	})
	sampler.next("idle")
	time.Sleep(30 * time.Second)

	_, fails, bytes, _ := follower.totals()
	victims := slices.Sorted(maps.Keys(fails))
	victims = slices.DeleteFunc(victims, func(p string) bool { return fails[p] == 0 })
	if len(victims) == 0 {
		b.Fatalf("no policy with failures: %v", fails)
	}
	edited := victims[0]
	pol := severityEdited(ctx, b, env, edited)
	evalBefore := scrape().podEvaluations
	sampler.next("policy edit")
	changed := time.Now()
	if err := env.Client.Update(ctx, pol); err != nil {
		b.Fatal(err)
	}
	var evaluatedIn time.Duration
	for {
		if m := scrape(); m.podEvaluations-evalBefore >= float64(pods) {
			evaluatedIn = time.Since(changed)
			break
		}
		if time.Since(changed) > 20*time.Minute {
			b.Fatal("policy edit: Pods not evaluated again after 20 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	editReports := settle("policy edit", changed, func(m serveMetrics) bool {
		listed, marked := follower.policy(edited)
		return listed > 0 && listed == marked && maps.Equal(m.severities[edited], map[string]bool{editedSeverity: true})
	})
	sampler.next("idle after the edit")
	time.Sleep(30 * time.Second)
	phases := sampler.stop()
	b.StopTimer()

	hwm := procStatusKB(cmd.Process.Pid, "VmHWM")
	b.Logf("serve %s", strings.Join(args[1:], " "))
	b.Logf("%d Pods; first reports after %s (%.2f MB of reports); editing %s: every Pod evaluated again in %s, reports updated in %s",
		pods, initial.Round(time.Millisecond), float64(bytes)/1e6, edited, evaluatedIn.Round(time.Millisecond), editReports.Round(time.Millisecond))
	for _, p := range phases {
		b.Logf("%s", p)
	}
	b.Logf("VmHWM (the kernel's peak RSS) %.0f MiB", hwm/1024)
	b.ReportMetric(initial.Seconds(), "initial-s")
	b.ReportMetric(evaluatedIn.Seconds(), "edit-eval-s")
	b.ReportMetric(editReports.Seconds(), "edit-reports-s")
	b.ReportMetric(hwm/1024, "hwm-MiB")
	for _, p := range phases {
		key := map[string]string{"start-up": "start", "idle": "idle", "policy edit": "edit", "idle after the edit": "idle2"}[p.name]
		b.ReportMetric(p.peak.rss, key+"-peak-rss-MiB")
		b.ReportMetric(p.maxAnon, key+"-peak-anon-MiB")
		b.ReportMetric(p.last.rss, key+"-end-rss-MiB")
		b.ReportMetric(p.cpu, key+"-cpu-s")
	}
}

// memSample is one reading of /proc/PID/status, in MiB.
type memSample struct{ rss, anon, file float64 }

func (s memSample) String() string {
	return fmt.Sprintf("%.0f MiB (anon %.0f, file %.0f)", s.rss, s.anon, s.file)
}

// procPhase is what the sampler saw of a process during one phase.
type procPhase struct {
	name             string
	began, ended     time.Time
	peak             memSample // the sample with the largest VmRSS
	maxAnon, maxFile float64
	last             memSample
	cpu              float64 // CPU seconds (user + system) of the process
	samples          int
}

func (p procPhase) String() string {
	return fmt.Sprintf("%-20s %6.1f s, CPU %5.2f s, %4d samples: largest VmRSS %s, largest RssAnon %.0f, largest RssFile %.0f; at the end %s",
		p.name+":", p.ended.Sub(p.began).Seconds(), p.cpu, p.samples, p.peak, p.maxAnon, p.maxFile, p.last)
}

// procSampler reads the memory and CPU time of a process every 50 ms and
// keeps, per phase, its largest and last samples.
type procSampler struct {
	pid     int
	mu      sync.Mutex
	cur     procPhase
	cpuAt   float64 // CPU seconds at the start of cur
	done    []procPhase
	stopped chan struct{}
	cancel  context.CancelFunc
}

func sampleProcess(ctx context.Context, pid int, first string) *procSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &procSampler{pid: pid, cur: procPhase{name: first, began: time.Now()}, stopped: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.stopped)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			s.sample()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *procSampler) sample() {
	m, ok := procMemory(s.pid)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &s.cur
	p.samples++
	p.last = m
	if m.rss > p.peak.rss {
		p.peak = m
	}
	p.maxAnon = max(p.maxAnon, m.anon)
	p.maxFile = max(p.maxFile, m.file)
}

// next ends the current phase (with a sample taken now) and starts name.
func (s *procSampler) next(name string) {
	s.sample()
	cpu := procCPUSeconds(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.ended, s.cur.cpu = time.Now(), cpu-s.cpuAt
	s.done = append(s.done, s.cur)
	s.cur, s.cpuAt = procPhase{name: name, began: time.Now()}, cpu
}

// stop ends the current phase and returns them all.
func (s *procSampler) stop() []procPhase {
	s.next("")
	s.cancel()
	<-s.stopped
	return s.done
}

// procMemory reads VmRSS, RssAnon and RssFile of a process.
func procMemory(pid int) (memSample, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memSample{}, false
	}
	var m memSample
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = kb / 1024
		case "RssAnon:":
			m.anon = kb / 1024
		case "RssFile:":
			m.file = kb / 1024
		}
	}
	return m, m.rss > 0
}

// procStatusKB is a field of /proc/PID/status in KiB.
func procStatusKB(pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb
		}
	}
	return 0
}

// procCPUSeconds is the user + system CPU time of a process (fields 14 and
// 15 of /proc/PID/stat, in clock ticks of 1/100 s on Linux).
func procCPUSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// serveMetrics is what the benchmark reads from serve's /metrics.
type serveMetrics struct {
	ok                    bool
	podEvaluations        float64                    // portcullis_background_evaluations_total{kind="Pod"}
	resources             float64                    // portcullis_background_resources
	violationsByNamespace map[string]float64         // portcullis_background_violations summed by namespace
	severities            map[string]map[string]bool // policy -> severities with violations
}

// scrapeServe reads serve's metrics in the Prometheus text format.
func scrapeServe(ctx context.Context, url string) (serveMetrics, error) {
	m := serveMetrics{violationsByNamespace: map[string]float64{}, severities: map[string]map[string]bool{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return m, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return m, fmt.Errorf("metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, value, ok := parseSample(line)
		if !ok {
			continue
		}
		switch name {
		case "portcullis_background_evaluations_total":
			if labels["kind"] == "Pod" {
				m.podEvaluations += value
			}
		case "portcullis_background_resources":
			m.resources += value
		case "portcullis_background_violations":
			if value > 0 {
				m.violationsByNamespace[labels["namespace"]] += value
				if m.severities[labels["policy"]] == nil {
					m.severities[labels["policy"]] = map[string]bool{}
				}
				m.severities[labels["policy"]][labels["severity"]] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("metrics: %w", err)
	}
	m.ok = true
	return m, nil
}

// parseSample parses one sample line of the Prometheus text format:
// name{label="value",...} value. Label values here hold no escaped
// quotes or commas.
func parseSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	labels = map[string]string{}
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", nil, 0, false
		}
		name, rest = line[:i], line[j+1:]
		for pair := range strings.SplitSeq(line[i+1:j], ",") {
			k, v, found := strings.Cut(pair, "=")
			if found {
				labels[strings.TrimSpace(k)] = strings.Trim(v, `"`)
			}
		}
	} else {
		var found bool
		name, rest, found = strings.Cut(line, " ")
		if !found {
			return "", nil, 0, false
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return name, labels, v, err == nil
}
