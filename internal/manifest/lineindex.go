package manifest

import (
	"bytes"
	"encoding/binary"

	"go.yaml.in/yaml/v3"
)

// LineIndex answers what Lines.FieldLines answers for a document, kept
// without its parsed tree: the tree's mapping keys and the lines of its
// nodes, in the tree's order, as bytes (a tenth or less of the tree's
// memory, and much less than parsing the text again costs). A caller that
// drops a document's tree after decoding it keeps a LineIndex to locate
// the document's fields later.
type LineIndex struct {
	enc   []byte
	start int
}

// Node kinds in a LineIndex's encoding.
const (
	lineLeaf byte = iota
	lineMapping
	lineSequence
)

// LineIndex returns the line index of d's parsed tree, or nil when
// decoding kept no tree (then Lines parses the text) or the tree has
// aliases.
func (d Document) LineIndex() *LineIndex {
	if d.root == nil {
		return nil
	}
	return newLineIndex(d.root, d.Line, len(d.Raw))
}

// newLineIndex is the line index of root, the tree of a document of size
// bytes that starts on line start of its file; nil when the tree has
// aliases.
func newLineIndex(root *yaml.Node, start, size int) *LineIndex {
	// The encoding holds the keys and a few bytes a node: about 57% of
	// the text of a manifest.
	enc, ok := appendLineNode(make([]byte, 0, size*5/8), root, 0)
	if !ok {
		return nil
	}
	if cap(enc)-len(enc) > len(enc)/8 {
		enc = bytes.Clone(enc) // the index is kept: no more than 1/8 unused
	}
	return &LineIndex{enc: enc, start: max(start, 1)}
}

// appendLineNode encodes n: its kind, its line, then for a mapping the
// number of pairs and each pair's key, key line and value; for a
// sequence the number of items and each item. ok is false for a tree
// with an alias (nodeLine follows aliases; the index does not) or nested
// deeper than maxNodeDepth.
func appendLineNode(b []byte, n *yaml.Node, depth int) (_ []byte, ok bool) {
	if depth > maxNodeDepth || n.Kind == yaml.AliasNode {
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		b = append(b, lineMapping)
		b = binary.AppendUvarint(b, uint64(max(n.Line, 0)))
		b = binary.AppendUvarint(b, uint64(len(n.Content)/2))
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			b = binary.AppendUvarint(b, uint64(len(k.Value)))
			b = append(b, k.Value...)
			b = binary.AppendUvarint(b, uint64(max(k.Line, 0)))
			if b, ok = appendLineNode(b, n.Content[i+1], depth+1); !ok {
				return nil, false
			}
		}
	case yaml.SequenceNode:
		b = append(b, lineSequence)
		b = binary.AppendUvarint(b, uint64(max(n.Line, 0)))
		b = binary.AppendUvarint(b, uint64(len(n.Content)))
		for _, c := range n.Content {
			if b, ok = appendLineNode(b, c, depth+1); !ok {
				return nil, false
			}
		}
	default:
		b = append(b, lineLeaf)
		b = binary.AppendUvarint(b, uint64(max(n.Line, 0)))
	}
	return b, true
}

// FieldLine returns the line in the file of the field at path, a dotted
// path as FieldError names them ("spec.containers[0].image"): what
// FieldLines of the document's Lines returns for it.
func (x *LineIndex) FieldLine(path string) int {
	if x == nil {
		return 0
	}
	r := lineReader{b: x.enc}
	kind, line := r.node()
	for _, seg := range pathSegments(path) {
		found := false
		switch {
		case seg.index >= 0 && kind == lineSequence:
			if n := r.uvarint(); uint64(seg.index) < n {
				for range seg.index {
					r.skip()
				}
				kind, line = r.node()
				found = true
			}
		case seg.index < 0 && kind == lineMapping:
			n := r.uvarint()
			for range n {
				key, keyLine := r.bytes(), r.uvarint()
				if string(key) == seg.key {
					kind, _ = r.node()
					line, found = int(keyLine), true
					break
				}
				r.skip()
			}
		}
		if !found || r.bad {
			break
		}
	}
	return x.start + line - 1
}

// lineReader reads a LineIndex's encoding; bad is set (and zeros read)
// past its end, which an encoding appendLineNode wrote never reaches.
type lineReader struct {
	b   []byte
	bad bool
}

func (r *lineReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *lineReader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

// node reads a node's kind and line, leaving r at its contents.
func (r *lineReader) node() (kind byte, line int) {
	if len(r.b) == 0 {
		r.bad = true
		return lineLeaf, 0
	}
	kind, r.b = r.b[0], r.b[1:]
	return kind, int(r.uvarint())
}

// skip reads past a node and its contents.
func (r *lineReader) skip() {
	kind, _ := r.node()
	switch kind {
	case lineMapping:
		for n := r.uvarint(); n > 0 && !r.bad; n-- {
			r.bytes()
			r.uvarint()
			r.skip()
		}
	case lineSequence:
		for n := r.uvarint(); n > 0 && !r.bad; n-- {
			r.skip()
		}
	}
}
