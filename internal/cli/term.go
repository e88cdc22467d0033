package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal (not a file, pipe or
// /dev/null) and NO_COLOR is unset: whether a table for people may be
// coloured.
func isTerminal(w io.Writer) bool {
	return colorEnabled(w, false)
}

// isTTY reports whether w is a terminal.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colorEnabled reports whether output to w may use ANSI colours: w is a
// terminal, colours were not turned off (noColor, for --no-color), NO_COLOR
// is unset or empty (https://no-color.org) and TERM is not "dumb".
func colorEnabled(w io.Writer, noColor bool) bool {
	return colorAllowed(noColor, os.Getenv) && isTTY(w)
}

// colorAllowed is colorEnabled without the terminal check.
func colorAllowed(noColor bool, getenv func(string) string) bool {
	return !noColor && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

// terminalWidth returns the width table lines are cut to on w: the
// terminal's width, else $COLUMNS, else 0 (lines are left whole, for logs
// and files).
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 0
}

// progress draws one line on a terminal telling how far a long scan is:
// resources done, and bytes of input behind them. It stays silent for
// the first second (short scans print nothing), redraws at most ten times
// a second, and Clear erases it.
type progress struct {
	w     io.Writer
	start time.Time
	// now is time.Now; tests replace it.
	now func() time.Time
	// delay is how long a scan runs before the line appears.
	delay time.Duration
	last  time.Time
	shown int // length of the line on screen, 0 when none
	// sizes[i] is the number of input bytes up to and including item i;
	// nil when unknown.
	sizes []int64
}

func newProgress(w io.Writer, sizes []int64) *progress {
	p := &progress{w: w, now: time.Now, delay: time.Second, sizes: sizes}
	p.start = p.now()
	return p
}

// Update reports items done of total and redraws the line when due.
func (p *progress) Update(resources, done, total int) {
	now := p.now()
	if now.Sub(p.start) < p.delay || (p.shown > 0 && now.Sub(p.last) < 100*time.Millisecond && done < total) {
		return
	}
	p.last = now
	line := fmt.Sprintf("scanning: %s resources", thousands(int64(resources)))
	if n := len(p.sizes); n > 0 && done > 0 && done <= n {
		line += fmt.Sprintf(", %s of %s read", megabytes(p.sizes[done-1]), megabytes(p.sizes[n-1]))
	} else if total > 0 {
		line += fmt.Sprintf(", document %s of %s", thousands(int64(done)), thousands(int64(total)))
	}
	line += fmt.Sprintf(" (%ds)", int(now.Sub(p.start).Seconds()))
	p.draw(line)
}

// Listing reports the listing of a cluster: the kind being listed, how
// many kinds of how many are done and the objects read so far.
func (p *progress) Listing(kind string, kinds, done, objects int) {
	now := p.now()
	if now.Sub(p.start) < p.delay || (p.shown > 0 && now.Sub(p.last) < 100*time.Millisecond && done < kinds) {
		return
	}
	p.last = now
	line := fmt.Sprintf("listing: %s objects, %d of %d kinds", thousands(int64(objects)), done, kinds)
	if kind != "" {
		line += " (" + kind + ")"
	}
	line += fmt.Sprintf(" (%ds)", int(now.Sub(p.start).Seconds()))
	p.draw(line)
}

// draw writes line over the shown one.
func (p *progress) draw(line string) {
	pad := ""
	if d := p.shown - len(line); d > 0 {
		pad = strings.Repeat(" ", d)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.shown = len(line)
}

// Clear erases the line if it is shown.
func (p *progress) Clear() {
	if p.shown > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.shown))
		p.shown = 0
	}
}

func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// thousands writes n with comma separators: 84,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// autoWidth is the --width flag: an int whose unset value (-1, "use the
// terminal's width") is shown in help as nothing rather than "-1".
type autoWidth struct{ p *int }

func (w autoWidth) String() string {
	if w.p == nil || *w.p < 0 {
		return ""
	}
	return strconv.Itoa(*w.p)
}

func (w autoWidth) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("want a number of columns (0: never cut), got %q", s)
	}
	*w.p = n
	return nil
}

func (autoWidth) Type() string { return "int" }
