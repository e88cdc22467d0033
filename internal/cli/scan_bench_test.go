package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/cli"
)

// scanBenchResources is how many resources BenchmarkScan10k scans.
const scanBenchResources = 10_000

var scanBenchManifests = sync.OnceValues(func() ([]byte, error) {
	// The generator is a main package, so it runs as a program; its
	// output stays in memory. `go test` puts its own go first in PATH.
	cmd := exec.Command("go", "run", "../../hack/genmanifests", "-n", strconv.Itoa(scanBenchResources), "-seed", "1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &genError{err: err, stderr: stderr.String()}
	}
	return out, nil
})

type genError struct {
	err    error
	stderr string
}

func (e *genError) Error() string { return "hack/genmanifests: " + e.err.Error() + "\n" + e.stderr }

// scanBenchOnce runs the scan once with its output kept, for the checks.
func scanBenchOnce(b *testing.B, data []byte, args []string) []byte {
	b.Helper()
	var stdout, stderr bytes.Buffer
	if code := cli.Main(context.Background(), args, bytes.NewReader(data), &stdout, &stderr); code != cli.ExitOK {
		b.Fatalf("exit code %d: %s", code, stderr.String())
	}
	return stdout.Bytes()
}

// BenchmarkScan10k runs `portcullis scan - --fail-on none` on 10,000
// generated resources (hack/genmanifests -n 10000 -seed 1) with the
// built-in control library: decoding, evaluation and the report, through
// cli.Main like the binary, with JSON output (-o json) and with the
// default table. The manifests are generated and one scan's output is
// checked (every resource scanned, passes and failures found, the table
// agreeing with the JSON summary) before timing.
func BenchmarkScan10k(b *testing.B) {
	data, err := scanBenchManifests()
	if err != nil {
		b.Fatal(err)
	}
	var out struct {
		Summary struct {
			Resources int `json:"resources"`
			Pass      int `json:"pass"`
			Fail      int `json:"fail"`
		} `json:"summary"`
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(scanBenchOnce(b, data, []string{"scan", "-", "--fail-on", "none", "-o", "json"}), &out); err != nil {
		b.Fatalf("scan -o json: %v", err)
	}
	sum := out.Summary
	if sum.Resources != scanBenchResources || sum.Pass == 0 || sum.Fail == 0 || len(out.Results) < sum.Fail {
		b.Fatalf("scan -o json: summary %+v with %d results, want %d resources with passes and failures listed",
			sum, len(out.Results), scanBenchResources)
	}
	table := scanBenchOnce(b, data, []string{"scan", "-", "--fail-on", "none"})
	for _, want := range []string{fmt.Sprintf("Scanned %d resources", scanBenchResources), fmt.Sprintf(": %d passed, %d failed,", sum.Pass, sum.Fail)} {
		if !bytes.Contains(table, []byte(want)) {
			b.Fatalf("scan table output lacks %q:\n%s", want, table[max(0, len(table)-2000):])
		}
	}
	for _, output := range []string{"json", "table"} {
		b.Run(output, func(b *testing.B) {
			args := []string{"scan", "-", "--fail-on", "none", "-o", output}
			ctx := context.Background()
			var stderr bytes.Buffer
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				stderr.Reset()
				if code := cli.Main(ctx, args, bytes.NewReader(data), io.Discard, &stderr); code != cli.ExitOK {
					b.Fatalf("exit code %d: %s", code, stderr.String())
				}
			}
			b.ReportMetric(float64(scanBenchResources*b.N)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}

// largePods is how many Pods BenchmarkScanLargePods scans: 50 MB of YAML.
const largePods = 84_000

var largePodManifests = sync.OnceValues(func() ([]byte, error) {
	cmd := exec.Command("go", "run", "../../hack/genmanifests", "-pods", "-n", strconv.Itoa(largePods), "-seed", "1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &genError{err: err, stderr: stderr.String()}
	}
	return out, nil
})

// peakHeap samples the bytes of live and not yet collected heap objects
// while it runs, and returns the highest sample once stopped.
func peakHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var hi uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			hi = max(hi, sample[0].Value.Uint64())
			select {
			case <-done:
				peak <- hi
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-peak }
}

// BenchmarkScanLargePods runs `portcullis scan - --fail-on none` on 84,000
// small Pods (hack/genmanifests -pods -n 84000 -seed 1: 50 MB of YAML,
// 588,000 failures) through cli.Main, output discarded, for the table,
// -o json and -o sarif. It reports the peak heap (peak-heap-MiB): the
// report streams, so memory must stay bounded by the input, not grow with
// the findings. Run it with -benchtime 1x; one scan of each output is
// checked first.
func BenchmarkScanLargePods(b *testing.B) {
	data, err := largePodManifests()
	if err != nil {
		b.Fatal(err)
	}
	out := scanBenchOnce(b, data, []string{"scan", "-", "--fail-on", "none"})
	want := fmt.Sprintf("Scanned %d resources with 20 policies (60 rules): 1092000 passed, 588000 failed,", largePods)
	if !bytes.Contains(out, []byte(want)) {
		b.Fatalf("table lacks %q:\n%s", want, out[max(0, len(out)-2000):])
	}
	for _, output := range []string{"table", "json", "sarif"} {
		b.Run(output, func(b *testing.B) {
			args := []string{"scan", "-", "--fail-on", "none", "-o", output}
			ctx := context.Background()
			var stderr bytes.Buffer
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var peak uint64
			for b.Loop() {
				stderr.Reset()
				runtime.GC()
				stop := peakHeap()
				code := cli.Main(ctx, args, bytes.NewReader(data), io.Discard, &stderr)
				peak = max(peak, stop())
				if code != cli.ExitOK {
					b.Fatalf("exit code %d: %s", code, stderr.String())
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(largePods*b.N)/b.Elapsed().Seconds(), "resources/s")
		})
	}
}
