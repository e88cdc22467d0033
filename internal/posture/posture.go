package posture

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Control describes one control of a library.
type Control struct {
	// ID is the control's identifier ("C-0017", "PC-0001").
	ID string `json:"id"`
	// Name is the control's short title.
	Name string `json:"name,omitempty"`
	// Severity is low, medium, high or critical.
	Severity string `json:"severity,omitempty"`
	// Description says what the control checks and why.
	Description string `json:"description,omitempty"`
	// Remediation says how to fix a failure.
	Remediation string `json:"remediation,omitempty"`
}

// Framework is a named set of controls ("nsa", "cis", "mitre").
type Framework struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Controls are the IDs of the framework's controls, in the library's
	// order.
	Controls []string `json:"controls"`
}

// Catalog is what a control library tells about its frameworks and
// controls. Implementations must be safe for concurrent reads.
type Catalog interface {
	// Frameworks lists the library's frameworks.
	Frameworks() []Framework
	// Control returns the control with the given ID.
	Control(id string) (Control, bool)
}

// Static is a Catalog held in memory.
type Static struct {
	fws   []Framework
	ctrls map[string]Control
}

// NewStatic returns a catalog of the given frameworks and controls.
func NewStatic(frameworks []Framework, controls []Control) *Static {
	s := &Static{fws: slices.Clone(frameworks), ctrls: make(map[string]Control, len(controls))}
	for _, c := range controls {
		s.ctrls[c.ID] = c
	}
	return s
}

// Frameworks implements Catalog.
func (s *Static) Frameworks() []Framework { return slices.Clone(s.fws) }

// Control implements Catalog.
func (s *Static) Control(id string) (Control, bool) {
	c, ok := s.ctrls[id]
	return c, ok
}

// Controls returns every control of the catalog, by ID.
func (s *Static) Controls() []Control {
	out := make([]Control, 0, len(s.ctrls))
	for _, c := range s.ctrls {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Merge returns a catalog answering from each of cs in turn: the
// frameworks of all (the first of a name wins) and the first control of
// an ID.
func Merge(cs ...Catalog) Catalog { return merged(cs) }

type merged []Catalog

func (m merged) Frameworks() []Framework {
	var out []Framework
	seen := map[string]bool{}
	for _, c := range m {
		for _, f := range c.Frameworks() {
			if k := strings.ToLower(f.Name); !seen[k] {
				seen[k] = true
				out = append(out, f)
			}
		}
	}
	return out
}

func (m merged) Control(id string) (Control, bool) {
	for _, c := range m {
		if ctl, ok := c.Control(id); ok {
			return ctl, true
		}
	}
	return Control{}, false
}

// ErrUnknown is wrapped by Select's errors for a framework or control the
// catalog does not have.
var ErrUnknown = errors.New("unknown")

// Selection is what a scan runs: the frameworks asked for and the union
// of their controls and of the controls asked for by ID.
type Selection struct {
	// Frameworks are the selected frameworks, as the catalog has them.
	Frameworks []Framework
	// Controls are the selected control IDs, sorted.
	Controls []string
}

// Has reports whether the control id is selected.
func (s Selection) Has(id string) bool {
	_, ok := slices.BinarySearch(s.Controls, id)
	return ok
}

// Select resolves framework names (case-insensitive, as Kubescape takes
// them: "nsa", "NSA") and control IDs (case-insensitive) against c. An
// unknown name is an error wrapping ErrUnknown that lists the known ones.
func Select(c Catalog, frameworks, controls []string) (Selection, error) {
	var sel Selection
	ids := map[string]bool{}
	all := c.Frameworks()
	for _, name := range frameworks {
		i := slices.IndexFunc(all, func(f Framework) bool { return strings.EqualFold(f.Name, name) })
		if i < 0 {
			names := make([]string, len(all))
			for k, f := range all {
				names[k] = f.Name
			}
			return Selection{}, fmt.Errorf("%w framework %q (known: %s)", ErrUnknown, name, strings.Join(names, ", "))
		}
		if slices.ContainsFunc(sel.Frameworks, func(f Framework) bool { return f.Name == all[i].Name }) {
			continue
		}
		sel.Frameworks = append(sel.Frameworks, all[i])
		for _, id := range all[i].Controls {
			ids[id] = true
		}
	}
	for _, id := range controls {
		ctl, ok := c.Control(id)
		if !ok {
			ctl, ok = c.Control(strings.ToUpper(id))
		}
		if !ok {
			return Selection{}, fmt.Errorf("%w control %q", ErrUnknown, id)
		}
		ids[ctl.ID] = true
	}
	for id := range ids {
		sel.Controls = append(sel.Controls, id)
	}
	sort.Strings(sel.Controls)
	return sel, nil
}

// Tally counts the resources a control was evaluated on: a resource is
// failed when one of the control's results on it failed, passed when
// none failed and one passed; resources with only skipped results are
// counted in Skipped and are neither.
type Tally struct {
	Passed, Failed, Skipped int
}

// Total is the number of resources the control applied to (passed +
// failed).
func (t Tally) Total() int { return t.Passed + t.Failed }

// ControlScore is a control's compliance score in percent, as Kubescape
// computes it (opa-utils score.GetControlComplianceScore): 100 when
// nothing failed (a control that matched no resource passes), else
// passed resources / all resources × 100. skipped marks a control that
// could not be evaluated at all (Kubescape's "skipped" status: the data
// it needs is missing); it scores 0.
func ControlScore(t Tally, skipped bool) float64 {
	if t.Failed == 0 {
		if skipped {
			return 0
		}
		return 100
	}
	return float64(t.Passed) / float64(t.Total()) * 100
}

// FrameworkScore is a framework's compliance score in percent, as
// Kubescape computes it (opa-utils score.GetFrameworkComplianceScore):
// the plain average of the compliance scores of the framework's controls
// that ran; 0 when none ran.
func FrameworkScore(controlScores []float64) float64 {
	if len(controlScores) == 0 {
		return 0
	}
	var sum float64
	for _, s := range controlScores {
		sum += s
	}
	return sum / float64(len(controlScores))
}
