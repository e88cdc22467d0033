package dashboard

import (
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/store"
)

// chart is the trends chart, laid out on the server: bars of violations
// (fail and warn) per day on the left axis, the compliance score (0-100%)
// as a line on the right.
type chart struct {
	W, H   int
	Left   int // plot area
	Right  int
	Top    int
	Bottom int
	// MaxViolations is the left axis' top.
	MaxViolations int64
	Bars          []bar
	Points        []point
	// Line is the score polyline's points attribute.
	Line   string
	Labels []label
	Ticks  []tick
}

type bar struct {
	X, Y, W, H float64
	Title      string
}

type point struct {
	X, Y  float64
	Day   string
	Score string
	Count int64
}

type label struct {
	X    float64
	Text string
}

type tick struct {
	Y           float64
	Left, Right string
}

// newChart lays out days (nil when there are none).
func newChart(days []store.DayPoint) *chart {
	if len(days) == 0 {
		return nil
	}
	c := &chart{W: 760, H: 260, Left: 48, Right: 712, Top: 16, Bottom: 224}
	for _, d := range days {
		c.MaxViolations = max(c.MaxViolations, d.Fail+d.Warn)
	}
	top := niceCeil(c.MaxViolations)
	plotW, plotH := float64(c.Right-c.Left), float64(c.Bottom-c.Top)
	step := plotW / float64(len(days))
	var line []string
	every := max(1, len(days)/8)
	for i, d := range days {
		x := float64(c.Left) + step*float64(i)
		v := d.Fail + d.Warn
		day := d.Day.Format("2006-01-02")
		bh := plotH * float64(v) / float64(top)
		c.Bars = append(c.Bars, bar{X: round1(x + step*0.15), Y: round1(float64(c.Bottom) - bh), W: round1(step * 0.7), H: round1(bh),
			Title: day + ": " + strconv.FormatInt(v, 10) + " violations"})
		px, py := round1(x+step/2), round1(float64(c.Bottom)-plotH*d.Score/100)
		c.Points = append(c.Points, point{X: px, Y: py, Day: day, Score: strconv.FormatFloat(d.Score, 'f', 1, 64), Count: v})
		line = append(line, strconv.FormatFloat(px, 'f', 1, 64)+","+strconv.FormatFloat(py, 'f', 1, 64))
		if i%every == 0 {
			c.Labels = append(c.Labels, label{X: px, Text: d.Day.Format("01-02")})
		}
	}
	c.Line = strings.Join(line, " ")
	for i := range 5 {
		f := float64(i) / 4
		c.Ticks = append(c.Ticks, tick{Y: round1(float64(c.Bottom) - plotH*f),
			Left: strconv.FormatInt(int64(float64(top)*f+0.5), 10), Right: strconv.Itoa(int(f*100)) + "%"})
	}
	return c
}

// niceCeil rounds n up to 4, or to 1, 2 or 5 times a power of ten of at
// least 4, so the axis' quarter ticks are whole numbers.
func niceCeil(n int64) int64 {
	if n <= 4 {
		return 4
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{4, 8, 20, 40} {
			if n <= m*p {
				return m * p
			}
		}
	}
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
