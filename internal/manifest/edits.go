package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Edit is a change to the text of a file: the text between the start and
// the end position (1-based lines, 1-based columns counted in Unicode code
// points, the end exclusive) is replaced by Text. An Edit whose end equals
// its start inserts Text there. This is what a SARIF replacement holds
// (deletedRegion, insertedContent).
type Edit struct {
	StartLine, StartColumn int
	EndLine, EndColumn     int
	Text                   string
}

// Insertion reports whether e deletes nothing.
func (e Edit) Insertion() bool {
	return e.StartLine == e.EndLine && e.StartColumn == e.EndColumn
}

// PatchOp is one operation of an RFC 6902 JSON patch.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// ErrNoEdit is returned by PatchEdits when a patch cannot be written as
// edits of the document's text.
var ErrNoEdit = errors.New("the patch cannot be written as a text edit")

// PatchEdits returns the edits of raw, the YAML (or JSON) text of a
// document starting on line start of its file, that apply the RFC 6902
// JSON patch patch (a JSON array) to the object below the JSON pointer
// prefix ("" for the document itself, "/items/2" for an item of a List).
// A field the patch sets that exists as a scalar is replaced in place; a
// missing field is inserted, with the missing parents, as block YAML
// before the first key of its deepest existing parent mapping (all the
// fields missing under one parent in one insertion). Only "add" and
// "replace" operations on block-style mappings are written; any other
// patch (removal, a value that is itself a mapping or list in the text,
// a missing list item, flow-style parents, multi-line scalars) returns
// ErrNoEdit, and nothing else, so a fix is never partial. Edits are in
// text order and do not overlap.
func PatchEdits(raw []byte, start int, prefix, patch string) ([]Edit, error) {
	var ops []PatchOp
	if err := json.Unmarshal([]byte(patch), &ops); err != nil {
		return nil, fmt.Errorf("decode JSON patch: %w", err)
	}
	if len(ops) == 0 {
		return nil, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%w: the document does not parse", ErrNoEdit)
	}
	if start < 1 {
		start = 1
	}
	lines := bytes.Split(raw, []byte("\n"))
	type insertion struct {
		at   *yaml.Node // the parent mapping
		tree map[string]any
	}
	var (
		edits   []Edit
		inserts []*insertion
	)
	for _, op := range ops {
		if op.Op != "add" && op.Op != "replace" {
			return nil, fmt.Errorf("%w: %s operation", ErrNoEdit, op.Op)
		}
		segs, err := pointerSegments(prefix + op.Path)
		if err != nil {
			return nil, err
		}
		n, rest := doc.Content[0], segs
		for len(rest) > 0 {
			for n.Kind == yaml.AliasNode && n.Alias != nil {
				n = n.Alias
			}
			next := child(n, rest[0])
			if next == nil {
				break
			}
			n, rest = next, rest[1:]
		}
		if len(rest) == 0 {
			// The field exists: replace its scalar value.
			e, err := replaceScalar(n, lines, op.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op.Path, err)
			}
			edits = append(edits, e)
			continue
		}
		if n.Kind != yaml.MappingNode || n.Style&yaml.FlowStyle != 0 || len(n.Content) == 0 {
			return nil, fmt.Errorf("%w: %s: the parent of the missing field is no block mapping", ErrNoEdit, op.Path)
		}
		var in *insertion
		for _, x := range inserts {
			if x.at == n {
				in = x
			}
		}
		if in == nil {
			in = &insertion{at: n, tree: map[string]any{}}
			inserts = append(inserts, in)
		}
		if err := setTree(in.tree, rest, op.Value); err != nil {
			return nil, fmt.Errorf("%s: %w", op.Path, err)
		}
	}
	for _, in := range inserts {
		key := in.at.Content[0]
		text, err := blockYAML(in.tree, key.Column-1)
		if err != nil {
			return nil, err
		}
		edits = append(edits, Edit{StartLine: key.Line, StartColumn: key.Column, EndLine: key.Line, EndColumn: key.Column, Text: text})
	}
	for i := range edits {
		edits[i].StartLine += start - 1
		edits[i].EndLine += start - 1
	}
	sortEdits(edits)
	for i := 1; i < len(edits); i++ {
		p, e := edits[i-1], edits[i]
		if e.StartLine < p.EndLine || (e.StartLine == p.EndLine && e.StartColumn < p.EndColumn) ||
			(e.StartLine == p.StartLine && e.StartColumn == p.StartColumn) {
			return nil, fmt.Errorf("%w: overlapping changes", ErrNoEdit)
		}
	}
	return edits, nil
}

// sortEdits orders edits by their start.
func sortEdits(es []Edit) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && (es[j].StartLine < es[j-1].StartLine ||
			(es[j].StartLine == es[j-1].StartLine && es[j].StartColumn < es[j-1].StartColumn)); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// pointerSegments splits an RFC 6901 JSON pointer into its unescaped
// reference tokens.
func pointerSegments(p string) ([]string, error) {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%w: %q is no JSON pointer", ErrNoEdit, p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs, nil
}

// child returns the node under n at seg: the value of key seg of a
// mapping, item seg of a sequence; nil when there is none.
func child(n *yaml.Node, seg string) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		return childKey(n, seg)
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i]
		}
	}
	return nil
}

func childKey(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// replaceScalar returns the edit that replaces the single-line scalar n
// by v.
func replaceScalar(n *yaml.Node, lines [][]byte, v any) (Edit, error) {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || n.Line < 1 || n.Line > len(lines) {
		return Edit{}, fmt.Errorf("%w: the field's value is no single-line scalar", ErrNoEdit)
	}
	line := lines[n.Line-1]
	// Byte offset of the node's column.
	off := 0
	for col := 1; col < n.Column; col++ {
		if off >= len(line) {
			return Edit{}, fmt.Errorf("%w: the field's position is past its line", ErrNoEdit)
		}
		_, size := utf8.DecodeRune(line[off:])
		off += size
	}
	var end int
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end = closingQuote(line, off, '"')
	case n.Style&yaml.SingleQuotedStyle != 0:
		end = closingQuote(line, off, '\'')
	default:
		if strings.Contains(n.Value, "\n") || !bytes.HasPrefix(line[off:], []byte(n.Value)) {
			end = -1
		} else {
			end = off + len(n.Value)
		}
	}
	if end < 0 {
		return Edit{}, fmt.Errorf("%w: the field's value spans lines", ErrNoEdit)
	}
	text, err := scalarYAML(v)
	if err != nil {
		return Edit{}, err
	}
	return Edit{StartLine: n.Line, StartColumn: n.Column, EndLine: n.Line,
		EndColumn: n.Column + utf8.RuneCount(line[off:end]), Text: text}, nil
}

// closingQuote returns the byte offset just past the quoted scalar that
// opens at line[off] with quote q, -1 when it does not end on the line.
func closingQuote(line []byte, off int, q byte) int {
	if off >= len(line) || line[off] != q {
		return -1
	}
	for i := off + 1; i < len(line); i++ {
		switch {
		case q == '"' && line[i] == '\\':
			i++
		case line[i] == q:
			if q == '\'' && i+1 < len(line) && line[i+1] == '\'' {
				i++
				continue
			}
			return i + 1
		}
	}
	return -1
}

// scalarYAML writes v as a YAML value on one line: scalars in YAML's
// plain or quoted style, mappings and lists as JSON (flow YAML).
func scalarYAML(v any) (string, error) {
	switch v.(type) {
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("encode the fix value: %w", err)
		}
		return string(b), nil
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode the fix value: %w", err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if strings.Contains(s, "\n") {
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("encode the fix value: %w", err)
		}
		s = string(b)
	}
	return s, nil
}

// setTree sets path in tree to v, building the mappings and lists on the
// way (a numeric segment after a missing field makes a list: only item
// 0 can be made).
func setTree(tree map[string]any, path []string, v any) error {
	var cur any = tree
	for i, seg := range path {
		last := i == len(path)-1
		var nextIsIndex bool
		if !last {
			nextIsIndex = isIndex(path[i+1])
		}
		newValue := func() any {
			if last {
				return v
			}
			if nextIsIndex {
				return &[]any{}
			}
			return map[string]any{}
		}
		switch c := cur.(type) {
		case map[string]any:
			x, ok := c[seg]
			if !ok || last {
				if ok && last {
					return fmt.Errorf("%w: the field is set twice", ErrNoEdit)
				}
				x = newValue()
				c[seg] = x
			}
			cur = x
		case *[]any:
			idx, _ := strconv.Atoi(seg)
			switch {
			case idx < len(*c):
				if last {
					return fmt.Errorf("%w: the field is set twice", ErrNoEdit)
				}
				cur = (*c)[idx]
			case idx == len(*c):
				x := newValue()
				*c = append(*c, x)
				cur = x
			default:
				return fmt.Errorf("%w: item %d of a new list", ErrNoEdit, idx)
			}
		default:
			return fmt.Errorf("%w: a field below a value", ErrNoEdit)
		}
	}
	return nil
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// unref turns the list pointers setTree keeps back into lists.
func unref(v any) any {
	switch x := v.(type) {
	case *[]any:
		return unref(*x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = unref(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = unref(e)
		}
		return out
	}
	return v
}

// blockYAML writes tree as block YAML to insert at a column of indent
// spaces before an existing key: every line after the first indented by
// indent, and the text ends with a newline and indent so the key it is
// inserted before keeps its column.
func blockYAML(tree map[string]any, indent int) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(unref(tree)); err != nil {
		return "", fmt.Errorf("encode the fix: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("encode the fix: %w", err)
	}
	pad := strings.Repeat(" ", indent)
	var out strings.Builder
	for i, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if i > 0 {
			out.WriteString(pad)
		}
		out.WriteString(l)
		out.WriteString("\n")
	}
	out.WriteString(pad)
	return out.String(), nil
}
