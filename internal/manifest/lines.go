package manifest

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Lines locates fields of one document's text by the paths the engine
// reports ("/spec/containers/0/image/"). The text is parsed once, so one
// Lines answers every finding of a document. The zero value and a Lines
// whose text does not parse answer the document's start line.
type Lines struct {
	root  *yaml.Node
	start int
}

// NewLines parses raw, the text of a document that starts on line start
// of its file (1 when start < 1).
func NewLines(raw []byte, start int) *Lines {
	if start < 1 {
		start = 1
	}
	l := &Lines{start: start}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err == nil && len(doc.Content) > 0 {
		l.root = doc.Content[0]
	}
	return l
}

// Line returns the line in the file of the field at path: a
// slash-separated path with list indexes as numbers and an optional
// trailing slash; "" or "/" is the document's first field. When the path
// does not exist all the way, the line of its deepest existing parent is
// returned.
func (l *Lines) Line(path string) int {
	if l == nil || l.root == nil {
		if l == nil {
			return 0
		}
		return l.start
	}
	n, line := l.root, l.root.Line
	rest := strings.TrimPrefix(path, "/")
	for rest != "" && rest != "/" {
		var next *yaml.Node
		used := 0
		switch n.Kind {
		case yaml.MappingNode:
			// Keys may hold slashes (annotation names), which the path
			// does not escape: take the longest key the path continues with.
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if len(k) > used && (rest == k || strings.HasPrefix(rest, k+"/")) {
					next, line, used = n.Content[i+1], n.Content[i].Line, len(k)
				}
			}
		case yaml.SequenceNode:
			seg, _, _ := strings.Cut(rest, "/")
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
				next, line, used = n.Content[i], n.Content[i].Line, len(seg)
			}
		}
		if next == nil {
			break
		}
		n, rest = next, strings.TrimPrefix(rest[used:], "/")
	}
	return l.start + line - 1
}

// FieldLines returns the line in the file of each field of paths, dotted
// paths as FieldError names them ("spec.containers[0].image"; see
// FieldLines); 0 for every path when the text did not parse.
func (l *Lines) FieldLines(paths []string) []int {
	out := make([]int, len(paths))
	if l == nil || l.root == nil {
		return out
	}
	for i, p := range paths {
		out[i] = l.start + nodeLine(l.root, p) - 1
	}
	return out
}
