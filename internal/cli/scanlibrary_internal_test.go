//go:build !offline

package cli

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/kubescape"
	"github.com/portcullis/portcullis/internal/memlimit"
)

func TestFixPatch(t *testing.T) {
	for _, c := range []struct {
		fps  []kubescape.FixPath
		want string
	}{
		{nil, ""},
		{[]kubescape.FixPath{{Path: "spec.containers[0].securityContext.readOnlyRootFilesystem", Value: "true"}},
			`[{"op":"add","path":"/spec/containers/0/securityContext/readOnlyRootFilesystem","value":true}]`},
		{[]kubescape.FixPath{{Path: `metadata.annotations["a.b/c~d"]`, Value: "YOUR_VALUE"}, {Path: "spec.replicas", Value: "2"}},
			`[{"op":"add","path":"/metadata/annotations/a.b~1c~0d","value":"YOUR_VALUE"},{"op":"add","path":"/spec/replicas","value":2}]`},
		{[]kubescape.FixPath{{Path: "spec.x", Value: `{"a":1}`}}, `[{"op":"add","path":"/spec/x","value":"{\"a\":1}"}]`},
	} {
		if got := fixPatch(c.fps); got != c.want {
			t.Errorf("fixPatch(%v) = %s, want %s", c.fps, got, c.want)
		}
	}
}

// TestJSONPointerAllocs: a path is turned into a pointer without building
// an escaper per segment (it was a tenth of scan --library's own CPU at
// 10,000 resources).
func TestJSONPointerAllocs(t *testing.T) {
	const path = "spec.jobTemplate.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem"
	if got, want := jsonPointer(path), "/spec/jobTemplate/spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem"; got != want {
		t.Fatalf("jsonPointer = %s, want %s", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { jsonPointer(path) }); n > 25 {
		t.Errorf("jsonPointer: %.0f allocations, want at most 25", n)
	}
}

// TestScanMemoryLimit: the scan's soft memory limit is the floor until
// the live heap needs more, then keeps half the live heap free above it.
func TestScanMemoryLimit(t *testing.T) {
	for _, tc := range []struct{ live, want int64 }{
		{0, scanMemoryFloor},
		{200 << 20, scanMemoryFloor},
		{300 << 20, 450 << 20},
		{1 << 30, 3 << 29},
	} {
		if got := memlimit.Limit(scanMemoryFloor, tc.live, 0); got != tc.want {
			t.Errorf("memlimit.Limit(scanMemoryFloor, %d, 0) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

// TestHoldDecodeMemory: while the manifests are decoded, GOGC is
// decodeGCPercent and the soft memory limit at least the decode floor;
// stop restores both. A GOGC or GOMEMLIMIT of the
// environment is left alone.
func TestHoldDecodeMemory(t *testing.T) {
	gcPercent := func() int {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	prevGC, prevLimit := gcPercent(), debug.SetMemoryLimit(-1)
	stop := holdDecodeMemory(context.Background())
	gotGC := gcPercent()
	gotLimit := debug.SetMemoryLimit(-1)
	// The follower sets the limit on its first step, on its own goroutine.
	for deadline := time.Now().Add(time.Minute); gotLimit == prevLimit && time.Now().Before(deadline); gotLimit = debug.SetMemoryLimit(-1) {
		time.Sleep(time.Millisecond)
	}
	stop()
	if gotGC != decodeGCPercent || gotLimit < decodeMemoryFloor || gotLimit == prevLimit {
		t.Errorf("while decoding: GOGC %d, limit %d; want %d and at least %d", gotGC, gotLimit, decodeGCPercent, int64(decodeMemoryFloor))
	}
	if gcPercent() != prevGC || debug.SetMemoryLimit(-1) != prevLimit {
		t.Errorf("after: GOGC %d, limit %d; want %d, %d restored", gcPercent(), debug.SetMemoryLimit(-1), prevGC, prevLimit)
	}

	t.Setenv("GOGC", "100")
	stop = holdDecodeMemory(context.Background())
	gotGC, gotLimit = gcPercent(), debug.SetMemoryLimit(-1)
	stop()
	if gotGC != prevGC || gotLimit != prevLimit {
		t.Errorf("with GOGC set: GOGC %d, limit %d; want %d, %d unchanged", gotGC, gotLimit, prevGC, prevLimit)
	}
}

// TestHoldDecodeMemoryOverlapping: holds of scans run at once (as tests
// run them) leave GOGC at its default, whichever order they stop in.
func TestHoldDecodeMemoryOverlapping(t *testing.T) {
	prevGC := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prevGC)
	prevLimit := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prevLimit)
	stopA := holdDecodeMemory(context.Background())
	stopB := holdDecodeMemory(context.Background())
	stopA()
	stopB()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("after overlapping holds: GOGC %d, want 100", p)
	}
}
