package kubescape

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

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

// BenchmarkRuleRewrites evaluates rules of the shared Kubescape library on
// the 3,000 generated resources, one query per namespace as a large scan
// makes them, compiled as written and as compileRule rewrites them
// (hoist.go, hoistdata.go): the rewrites' gain per rule, in CPU time per
// scan (cpu-ms/op, the process's user and system time: garbage collection
// included). The rules are those of the NSA and MITRE controls, or those
// PORTCULLIS_BENCH_RULES names (comma-separated).
func BenchmarkRuleRewrites(b *testing.B) {
	dir := corpus.Kubescape(b)
	docs, err := benchManifests()
	if err != nil {
		b.Fatal(err)
	}
	byNS := map[string][]any{}
	var order []string
	for _, d := range docs {
		ns := scopeOf(d.Object)
		if _, ok := byNS[ns]; !ok {
			order = append(order, ns)
		}
		byNS[ns] = append(byNS[ns], d.Object)
	}
	var inputs []ast.Value
	for _, ns := range order {
		v, err := ast.InterfaceToValue(byNS[ns])
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, v)
	}
	lib, err := Load(dir, WithDeferredCompile())
	if err != nil {
		b.Fatal(err)
	}
	names := strings.Split(os.Getenv("PORTCULLIS_BENCH_RULES"), ",")
	if names[0] == "" {
		ids, err := lib.ControlsOf("NSA", "MITRE")
		if err != nil {
			b.Fatal(err)
		}
		names = lib.RulesOf(ids...)
	}
	d := Data{PostureControlInputs: lib.Inputs}
	ctx := context.Background()
	for _, name := range names {
		r := lib.Rules[name]
		if r == nil {
			b.Fatalf("no rule %s", name)
		}
		file := filepath.Join(r.Dir, "raw.rego")
		written := func() (*ast.Compiler, error) { return compileModule(file, r.rawModule, r.helpers) }
		rewritten := func() (*ast.Compiler, error) { return compileRule(file, r.rawModule, r.helpers) }
		for _, v := range []struct {
			name    string
			compile func() (*ast.Compiler, error)
		}{{"written", written}, {"rewritten", rewritten}} {
			b.Run(name+"/"+v.name, func(b *testing.B) {
				c, err := v.compile()
				if err != nil {
					b.Fatal(err)
				}
				pq, err := lib.prepare(ctx, c, d)
				if err != nil {
					b.Fatal(err)
				}
				start := cpuTime()
				for b.Loop() {
					for _, in := range inputs {
						if _, err := evalPrepared(ctx, pq, in, true); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
