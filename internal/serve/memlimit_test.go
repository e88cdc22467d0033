package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultMemoryLimit(t *testing.T) {
	write := func(t *testing.T, root, name, content string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	noEnv := func(string) string { return "" }
	cases := []struct {
		name   string
		files  map[string]string
		getenv func(string) string
		want   int64
		source string
	}{
		{name: "cgroup v2 limit", files: map[string]string{"memory.max": "268435456\n"}, getenv: noEnv, want: 241591910, source: "90% of ROOT/memory.max"},
		{name: "cgroup v2 without limit", files: map[string]string{"memory.max": "max\n"}, getenv: noEnv},
		{name: "cgroup v1 limit", files: map[string]string{"memory/memory.limit_in_bytes": "209715200\n"}, getenv: noEnv, want: 188743680, source: "90% of ROOT/memory/memory.limit_in_bytes"},
		{name: "cgroup v1 without limit", files: map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, getenv: noEnv},
		{name: "no cgroup files", getenv: noEnv},
		{name: "GOMEMLIMIT wins", files: map[string]string{"memory.max": "268435456\n"},
			getenv: func(k string) string {
				if k == "GOMEMLIMIT" {
					return "100MiB"
				}
				return ""
			}, source: "GOMEMLIMIT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tc.files {
				write(t, root, name, content)
			}
			got, source, err := DefaultMemoryLimit(tc.getenv, root)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("limit = %d, want %d", got, tc.want)
			}
			if want := strings.ReplaceAll(tc.source, "ROOT", root); source != want {
				t.Errorf("source = %q, want %q", source, want)
			}
		})
	}
	t.Run("unreadable value", func(t *testing.T) {
		root := t.TempDir()
		write(t, root, "memory.max", "lots\n")
		if _, _, err := DefaultMemoryLimit(noEnv, root); err == nil {
			t.Error("want an error for a memory.max that is not a number")
		}
	})
}

func TestDefaultGCPercent(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name        string
		getenv      func(string) string
		memoryLimit int64
		want        int
		source      string
	}{
		{name: "no memory limit: the runtime's default", getenv: env()},
		{name: "memory limit from the container", getenv: env(), memoryLimit: 230 << 20, want: GCPercentWithMemoryLimit, source: "memory limit"},
		{name: "GOMEMLIMIT", getenv: env("GOMEMLIMIT", "200MiB"), want: GCPercentWithMemoryLimit, source: "GOMEMLIMIT"},
		{name: "GOGC wins", getenv: env("GOGC", "50", "GOMEMLIMIT", "200MiB"), memoryLimit: 230 << 20, source: "GOGC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, source := DefaultGCPercent(tc.getenv, tc.memoryLimit)
			if got != tc.want || source != tc.source {
				t.Errorf("DefaultGCPercent = %d, %q; want %d, %q", got, source, tc.want, tc.source)
			}
		})
	}
	if GCPercentWithMemoryLimit <= 100 {
		t.Errorf("GCPercentWithMemoryLimit = %d: no larger than the Go default", GCPercentWithMemoryLimit)
	}
}
