package manifest

import (
	"bytes"

	"github.com/go-json-experiment/json/jsontext"
	"go.yaml.in/yaml/v3"
)

// Lean is a document decoded for a caller that drops each decoded object
// as soon as it is decoded and decodes it again when needed (see
// Compact): what Chunk.DecodeLean gives.
type Lean struct {
	// Document is the document without its parsed tree. When Compact is
	// set, its Object holds only the object's identity (Identity).
	Document
	// Compact is the object as JSON: nil when Document keeps the object
	// whole (List items, and objects NewCompact does not take).
	Compact Compact
	// Lines is the document's line index (Document.LineIndex): nil for
	// List items and for documents decoded without a tree, whose text is
	// parsed again to locate their fields.
	Lines *LineIndex
}

// DecodeLean decodes the chunk as Decode does, each document made lean:
// a document with text of its own (no List item) keeps only its
// identity, its compact form (when NewCompact takes its object) and its
// line index. A YAML document the one-parse path takes is written as
// JSON straight from its tree, without its decoded object being built,
// which costs a fraction of building the object and encoding it.
func (c Chunk) DecodeLean() ([]Lean, error) {
	if len(c.Data) > MaxDocumentBytes {
		return c.leanDocuments(c.Decode())
	}
	obj, ok := decodeJSON(c.Data)
	if ok {
		return c.leanDocuments(c.documents(obj, nil, nil))
	}
	root := parseNode(c.Data)
	if root != nil && !mayBeList(root) {
		if js, ok := compactNode(root, len(c.Data)); ok {
			d := Document{Source: c.Source, Index: c.Index, Object: identityNode(root), Line: c.Line, Raw: c.Data}
			return []Lean{{Document: d, Compact: js, Lines: newLineIndex(root, c.Line, len(c.Data))}}, nil
		}
	}
	// Lists, and whatever compactNode declines: the object is built (from
	// the same tree when the one-parse path takes it).
	return c.leanDocuments(c.documents(decodeYAML(c.Data, root)))
}

// leanDocuments makes the documents of a chunk lean, as DecodeLean
// describes.
func (c Chunk) leanDocuments(docs []Document, err error) ([]Lean, error) {
	out := make([]Lean, len(docs))
	for i, d := range docs {
		l := Lean{Document: d}
		if d.Item == nil {
			l.Lines = d.LineIndex()
		}
		if d.Raw != nil && d.Item == nil {
			if js, ok := NewCompact(d.Object); ok {
				l.Object, l.Compact = Identity(d.Object), js
			}
		}
		l.root = nil
		if l.Item != nil {
			l.Item.root = nil
		}
		out[i] = l
	}
	return out, err
}

// mayBeList reports whether the mapping root may be a List (see isList):
// whether it has a key "items". Lists are expanded into their items from
// the decoded object.
func mayBeList(root *yaml.Node) bool {
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "items" {
			return true
		}
	}
	return false
}

// compactNode writes the tree of the one-parse path as JSON: the compact
// form NewCompact gives of the object nodeValue converts root to. ok is
// false wherever nodeValue declines the tree (the encoder refuses the
// duplicate keys it declines), and where NewCompact would decline its
// object (a string that is not UTF-8, which the encoder refuses too).
// size is the length of the text root was parsed from (the JSON of a
// manifest is about four fifths of it).
func compactNode(root *yaml.Node, size int) (Compact, bool) {
	var buf bytes.Buffer
	buf.Grow(size)
	enc := jsontext.NewEncoder(&buf)
	if !writeNode(enc, root, 0) {
		return nil, false
	}
	js := bytes.TrimSuffix(buf.Bytes(), []byte("\n")) // the encoder ends a top-level value with a newline
	if cap(js)-len(js) > len(js)/8 {
		js = bytes.Clone(js) // the form is kept: no more than 1/8 unused
	}
	return js, true
}

// writeNode writes n to enc as JSON: what nodeValue converts it to (the
// order of mapping keys aside), or false where nodeValue declines or enc
// refuses.
func writeNode(enc *jsontext.Encoder, n *yaml.Node, depth int) bool {
	if depth > maxNodeDepth || n.Style&yaml.TaggedStyle != 0 {
		return false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		t, ok := scalarToken(n)
		return ok && enc.WriteToken(t) == nil
	case yaml.MappingNode:
		if enc.WriteToken(jsontext.BeginObject) != nil {
			return false
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !stringKey(k) || enc.WriteToken(jsontext.String(k.Value)) != nil || !writeNode(enc, n.Content[i+1], depth+1) {
				return false
			}
		}
		return enc.WriteToken(jsontext.EndObject) == nil
	case yaml.SequenceNode:
		if enc.WriteToken(jsontext.BeginArray) != nil {
			return false
		}
		for _, c := range n.Content {
			if !writeNode(enc, c, depth+1) {
				return false
			}
		}
		return enc.WriteToken(jsontext.EndArray) == nil
	}
	return false
}

// Identity is what identifies the object obj as a resource: apiVersion,
// kind, and metadata name and namespace, those of them obj has (metadata
// when it is a mapping).
func Identity(obj map[string]any) map[string]any {
	id := make(map[string]any, 3)
	for _, k := range []string{"apiVersion", "kind"} {
		if v, ok := obj[k]; ok {
			id[k] = v
		}
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		m := make(map[string]any, 2)
		for _, k := range []string{"name", "namespace"} {
			if v, ok := md[k]; ok {
				m[k] = v
			}
		}
		id["metadata"] = m
	}
	return id
}

// identityNode is Identity of the object of a tree compactNode took,
// converting only the nodes it keeps.
func identityNode(root *yaml.Node) map[string]any {
	id := make(map[string]any, 3)
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k, v := root.Content[i].Value, root.Content[i+1]; k {
		case "apiVersion", "kind":
			id[k], _ = nodeValue(v, 1)
		case "metadata":
			if v.Kind != yaml.MappingNode {
				continue
			}
			m := make(map[string]any, 2)
			for j := 0; j+1 < len(v.Content); j += 2 {
				if mk := v.Content[j].Value; mk == "name" || mk == "namespace" {
					m[mk], _ = nodeValue(v.Content[j+1], 2)
				}
			}
			id[k] = m
		}
	}
	return id
}
