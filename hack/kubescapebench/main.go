// Command kubescapebench times a Kubescape control-library scan of
// manifests, phase by phase and rule by rule (docs/benchmarks.md):
//
//	go run ./hack/kubescapebench -library DIR -framework NSA,MITRE FILE...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/kubescape"
	"github.com/portcullis/portcullis/internal/source/files"
)

func main() {
	library := flag.String("library", "", "control library directory")
	frameworks := flag.String("framework", "NSA,MITRE", "frameworks to run, comma-separated (empty: every control)")
	controls := flag.String("control", "", "controls to run, comma-separated (instead of -framework)")
	top := flag.Int("top", 15, "rules to list, costliest first")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := flag.String("memprofile", "", "write a heap profile (after the scan) to this file")
	workers := flag.Int("workers", 0, "rules evaluated at once (0: GOMAXPROCS); with 1, each rule's CPU time is listed too")
	flag.Parse()
	if *library == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	err := run(*library, *frameworks, *controls, *top, *workers, flag.Args(), *memprofile)
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
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

func run(dir, frameworks, controls string, top, workers int, paths []string, memprofile string) error {
	ctx := context.Background()
	t0 := time.Now()
	lib, err := kubescape.Load(dir, kubescape.WithDeferredCompile())
	if err != nil {
		return err
	}
	ids := lib.ControlIDs()
	switch {
	case controls != "":
		ids = strings.Split(controls, ",")
	case frameworks != "":
		if ids, err = lib.ControlsOf(strings.Split(frameworks, ",")...); err != nil {
			return err
		}
	}
	if err := lib.Compile(lib.RulesOf(ids...)...); err != nil {
		return err
	}
	tLoad := time.Since(t0)
	t1 := time.Now()
	chunks, _, err := files.ReadTree(paths, os.Stdin, files.Options{})
	if err != nil {
		return err
	}
	docs, err := chunks.DecodeAll()
	if err != nil {
		return err
	}
	objs := make([]map[string]any, 0, len(docs))
	for _, d := range docs {
		objs = append(objs, d.Object)
	}
	chunks, docs = nil, nil
	tRead := time.Since(t1)
	var mu sync.Mutex
	took := map[string]time.Duration{}
	// With one worker the rules run one after another: the CPU time
	// between two rules' ends is the later rule's (garbage collection
	// included).
	cpu := map[string]time.Duration{}
	t2 := time.Now()
	last := cpuTime()
	fs, err := lib.Scan(ctx, objs, kubescape.ScanOptions{Controls: ids, Workers: workers, RuleDone: func(rule string, d time.Duration) {
		mu.Lock()
		took[rule] += d
		now := cpuTime()
		cpu[rule] += now - last
		last = now
		mu.Unlock()
	}})
	if err != nil {
		return err
	}
	tScan := time.Since(t2)
	if memprofile != "" {
		runtime.GC()
		f, err := os.Create(memprofile)
		if err != nil {
			return err
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	count := map[engine.Status]int{}
	for _, f := range fs {
		count[f.Status]++
	}
	fmt.Printf("objects %d, controls %d, rules %d\n", len(objs), len(ids), len(took))
	fmt.Printf("load+compile %s, read+decode %s, scan %s, total %s\n", tLoad.Round(time.Millisecond),
		tRead.Round(time.Millisecond), tScan.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	fmt.Printf("findings: %d fail, %d pass, %d skip\n", count[engine.StatusFail], count[engine.StatusPass], count[engine.StatusSkip])
	names := make([]string, 0, len(took))
	var sum time.Duration
	for n, d := range took {
		names = append(names, n)
		sum += d
	}
	sort.Slice(names, func(i, j int) bool { return took[names[i]] > took[names[j]] })
	fmt.Printf("rule time (summed over workers) %s; costliest:\n", sum.Round(time.Millisecond))
	for i, n := range names {
		if i == top {
			break
		}
		if workers == 1 {
			fmt.Printf("  %-60s %10s  cpu %s\n", n, took[n].Round(time.Millisecond), cpu[n].Round(time.Millisecond))
			continue
		}
		fmt.Printf("  %-60s %s\n", n, took[n].Round(time.Millisecond))
	}
	return nil
}
