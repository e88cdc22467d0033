package report

import (
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
)

// caseRecord is what a control said about one resource: the outcome of
// its results there (the worst of them), their messages and where the
// first finding is. JUnit and HTML keep one per control and resource.
type caseRecord struct {
	resource engine.Resource
	file     string
	line     int
	status   engine.Status
	messages []string
	paths    []string
}

// collector keeps, per control, a record of every resource it was
// evaluated on (findings only with findingsOnly), for the writers that
// can only write once the scan is over (JUnit, HTML). Its memory grows
// with resources × controls: a few hundred bytes a record.
type collector struct {
	scan         *Scan
	findingsOnly bool
	byControl    map[string][]caseRecord
	order        []string
}

func newCollector(scan *Scan, findingsOnly bool) *collector {
	return &collector{scan: scan, findingsOnly: findingsOnly, byControl: map[string][]caseRecord{}}
}

// worse reports whether status a ranks before b (fail, error, warn,
// pass, skip).
func worse(a, b engine.Status) bool { return statusRank(a) < statusRank(b) }

// put adds r to the scan and keeps its records.
func (c *collector) put(r *Resource) {
	c.scan.Add(r)
	type acc struct {
		id  string
		rec caseRecord
	}
	var accs []acc
	for k := range r.Results {
		res := &r.Results[k]
		if c.findingsOnly && !isFinding(res.Status) {
			continue
		}
		id := c.scan.Catalog.ID(res)
		i := slices.IndexFunc(accs, func(a acc) bool { return a.id == id })
		if i < 0 {
			accs = append(accs, acc{id: id, rec: caseRecord{resource: res.Resource, file: r.File, line: r.line(k), status: res.Status}})
			i = len(accs) - 1
		}
		rec := &accs[i].rec
		if worse(res.Status, rec.status) {
			rec.status, rec.line = res.Status, r.line(k)
		}
		if isFinding(res.Status) {
			if m := dropLocation(ShortMessage(res), r.File); m != "" && !slices.Contains(rec.messages, m) {
				rec.messages = append(rec.messages, m)
			}
			if res.Path != "" && !slices.Contains(rec.paths, res.Path) {
				rec.paths = append(rec.paths, res.Path)
			}
		}
	}
	for _, a := range accs {
		if _, ok := c.byControl[a.id]; !ok {
			c.order = append(c.order, a.id)
		}
		c.byControl[a.id] = append(c.byControl[a.id], a.rec)
	}
}

// message is the record's messages on one line each.
func (r *caseRecord) message() string { return strings.Join(r.messages, "\n") }
