package serve

import (
	"bytes"
	"log/slog"
	"runtime"
	"strings"
	"testing"
)

// TestAfterBurst: with ReleaseExecutablePages the background controller's
// after-burst hook releases the executable's pages (and says so at debug
// level); without it there is no hook.
func TestAfterBurst(t *testing.T) {
	if afterBurst(Options{}) != nil {
		t.Error("a hook without ReleaseExecutablePages")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the pages are only released on Linux")
	}
	var logs bytes.Buffer
	hook := afterBurst(Options{ReleaseExecutablePages: true,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if hook == nil {
		t.Fatal("no hook with ReleaseExecutablePages")
	}
	hook()
	if out := logs.String(); !strings.Contains(out, "released the executable's pages") || !strings.Contains(out, "mappings=") || strings.Contains(out, "mappings=0 ") {
		t.Errorf("log %q: want the code and read-only data mappings released", out)
	}
}
