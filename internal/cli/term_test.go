package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestColorAllowed(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cases := []struct {
		name    string
		noColor bool
		getenv  func(string) string
		want    bool
	}{
		{"plain terminal", false, env("TERM", "xterm-256color"), true},
		{"--no-color", true, env("TERM", "xterm-256color"), false},
		{"NO_COLOR set", false, env("TERM", "xterm", "NO_COLOR", "1"), false},
		{"NO_COLOR empty", false, env("TERM", "xterm", "NO_COLOR", ""), true},
		{"TERM=dumb", false, env("TERM", "dumb"), false},
	}
	for _, c := range cases {
		if got := colorAllowed(c.noColor, c.getenv); got != c.want {
			t.Errorf("%s: colorAllowed = %v, want %v", c.name, got, c.want)
		}
	}
	// A buffer is no terminal: never colours, whatever the settings.
	if colorEnabled(&bytes.Buffer{}, false) {
		t.Error("colours enabled on a buffer")
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	p := newProgress(&buf, []int64{1e6, 3e6, 5e6})
	p.now = func() time.Time { return clock }
	p.start = clock
	// Under a second: silent, so short scans print nothing.
	clock = clock.Add(500 * time.Millisecond)
	p.Update(10, 1, 3)
	if buf.Len() != 0 {
		t.Fatalf("progress within the first second: %q", buf.String())
	}
	clock = clock.Add(time.Second)
	p.Update(20, 2, 3)
	if got, want := buf.String(), "\rscanning: 20 resources, 3.0 MB of 5.0 MB read (1s)"; got != want {
		t.Fatalf("progress = %q, want %q", got, want)
	}
	// Redrawn at most ten times a second, except for the last item.
	buf.Reset()
	clock = clock.Add(10 * time.Millisecond)
	p.Update(25, 2, 3)
	if buf.Len() != 0 {
		t.Fatalf("redrawn after 10 ms: %q", buf.String())
	}
	p.Update(84000, 3, 3)
	if !strings.Contains(buf.String(), "scanning: 84,000 resources, 5.0 MB of 5.0 MB read") {
		t.Fatalf("last update = %q", buf.String())
	}
	// Clear blanks the line and returns the cursor.
	buf.Reset()
	n := p.shown
	p.Clear()
	if want := "\r" + strings.Repeat(" ", n) + "\r"; buf.String() != want {
		t.Fatalf("Clear wrote %q, want %q", buf.String(), want)
	}
	buf.Reset()
	p.Clear()
	if buf.Len() != 0 {
		t.Fatalf("second Clear wrote %q", buf.String())
	}
}
