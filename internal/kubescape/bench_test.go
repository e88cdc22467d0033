package kubescape

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/testing/corpus"
)

// benchResources is how many resources BenchmarkScanNSAMITRE scans: above
// LargeScan, so the scan is split by namespace as at 10,000.
const benchResources = 3000

var benchManifests = sync.OnceValues(func() ([]manifest.Document, error) {
	// The generator is a main package, so it runs as a program.
	cmd := exec.Command("go", "run", "../../hack/genmanifests", "-n", strconv.Itoa(benchResources), "-seed", "1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &benchGenError{err: err, stderr: stderr.String()}
	}
	chunks, err := manifest.Split("bench.yaml", out)
	if err != nil {
		return nil, err
	}
	return manifest.DecodeChunks(chunks)
})

type benchGenError struct {
	err    error
	stderr string
}

func (e *benchGenError) Error() string {
	return "hack/genmanifests: " + e.err.Error() + "\n" + e.stderr
}

// BenchmarkScanNSAMITRE scans 3,000 generated resources (hack/genmanifests
// -n 3000 -seed 1) with the NSA and MITRE controls of the shared
// Kubescape library (docs/benchmarks.md, issue 16): the scan alone, the
// library loaded and its rules compiled and prepared before timing. One
// scan's findings are checked first (failures and passes found, every
// rule evaluated).
func BenchmarkScanNSAMITRE(b *testing.B) {
	dir := corpus.Kubescape(b)
	docs, err := benchManifests()
	if err != nil {
		b.Fatal(err)
	}
	objs := make([]map[string]any, len(docs))
	for i, d := range docs {
		objs[i] = d.Object
	}
	lib, err := Load(dir, WithDeferredCompile())
	if err != nil {
		b.Fatal(err)
	}
	ids, err := lib.ControlsOf("NSA", "MITRE")
	if err != nil {
		b.Fatal(err)
	}
	if err := lib.Compile(lib.RulesOf(ids...)...); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	fs, err := lib.Scan(ctx, objs, ScanOptions{Controls: ids})
	if err != nil {
		b.Fatal(err)
	}
	count := map[engine.Status]int{}
	for _, f := range fs {
		count[f.Status]++
		if f.Status == engine.StatusSkip && f.Resource.Name != "" {
			b.Fatalf("resource skipped: %s", f.Message)
		}
	}
	if count[engine.StatusFail] == 0 || count[engine.StatusPass] == 0 {
		b.Fatalf("findings %v: want failures and passes", count)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := lib.Scan(ctx, objs, ScanOptions{Controls: ids}); err != nil {
			b.Fatal(err)
		}
	}
}
