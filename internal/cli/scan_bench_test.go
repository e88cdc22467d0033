package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"sync"
	"testing"

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
