package manifest

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"go.yaml.in/yaml/v3"
)

// decodeNode is the one-parse path of decodeOne: it parses raw once with
// yaml.v3 into a node tree and converts that tree to the JSON value the
// reference decoding (sigs.k8s.io/yaml, YAML 1.1 through yaml.v2, then
// encoding/json) gives, keeping the tree so that findings can be located
// by line without parsing the text again (Document.Lines).
//
// yaml.v3 reads YAML 1.2 and yaml.v2 YAML 1.1, so ok is false — and the
// caller takes the yaml.v2 path, which decides — for anything the two
// could read differently: explicit tags, merge keys, duplicate keys,
// aliases (see nodeValue), plain scalars YAML 1.1 reads as booleans or numbers where YAML 1.2
// reads strings (yes, on, 0777, 1_000, .inf) and numbers not written in
// plain decimal; a document that is not a mapping or that yaml.v3 does
// not parse is declined too, so errors keep yaml.v2's wording.
func decodeNode(raw []byte) (obj map[string]any, root *yaml.Node, ok bool) {
	root = parseNode(raw)
	if root == nil {
		return nil, nil, false
	}
	v, ok := nodeValue(root, 0)
	if !ok {
		return nil, nil, false
	}
	return v.(map[string]any), root, true
}

// parseNode parses raw with yaml.v3 for the one-parse path: the root
// mapping of its one document, or nil when raw may hold a tag, does not
// parse, or is not a mapping (decodeNode declines those).
func parseNode(raw []byte) *yaml.Node {
	if mayHaveTag(raw) {
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	if root := doc.Content[0]; root.Kind == yaml.MappingNode {
		return root
	}
	return nil
}

// maxNodeDepth bounds the recursion of nodeValue.
const maxNodeDepth = 1000

// nodeValue converts n to its JSON value. Aliases are declined: yaml.v3
// keeps them unexpanded in its tree, and expanding them here would let a
// document of a few lines grow exponentially ("billion laughs"); yaml.v2,
// which the caller falls back to, bounds their expansion as the
// reference decoding does.
func nodeValue(n *yaml.Node, depth int) (any, bool) {
	if depth > maxNodeDepth || n.Style&yaml.TaggedStyle != 0 {
		return nil, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		t, ok := scalarToken(n)
		if !ok {
			return nil, false
		}
		switch t.Kind() {
		case 'n':
			return nil, true
		case 't', 'f':
			return t.Bool(), true
		case '0':
			return t.Float(), true
		}
		return t.String(), true
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !stringKey(k) {
				return nil, false
			}
			if _, dup := out[k.Value]; dup {
				return nil, false
			}
			v, ok := nodeValue(n.Content[i+1], depth+1)
			if !ok {
				return nil, false
			}
			out[k.Value] = v
		}
		return out, true
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, ok := nodeValue(c, depth+1)
			if !ok {
				return nil, false
			}
			out[i] = v
		}
		return out, true
	}
	return nil, false
}

// stringKey reports whether the mapping key k is a string both YAML
// versions read alike; merge keys (!!merge), numbers, booleans and null
// are not.
func stringKey(k *yaml.Node) bool {
	if k.Kind != yaml.ScalarNode || k.Style&yaml.TaggedStyle != 0 || k.Tag != "!!str" {
		return false
	}
	return k.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 || plainString(k.Value)
}

// scalarToken returns the JSON value of the scalar node n as a token
// (null, a boolean, a number or a string), or false when the two YAML
// versions could read it differently.
func scalarToken(n *yaml.Node) (jsontext.Token, bool) {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return jsontext.String(n.Value), n.Tag == "!!str"
	}
	s := n.Value
	switch n.Tag {
	case "!!str":
		if !plainString(s) {
			return jsontext.Token{}, false
		}
		return jsontext.String(s), true
	case "!!null":
		return jsontext.Null, true
	case "!!timestamp":
		// yaml.v2 gives timestamps as the strings they are.
		return jsontext.String(s), plainString(s)
	case "!!bool":
		switch s {
		case "true", "True", "TRUE":
			return jsontext.True, true
		case "false", "False", "FALSE":
			return jsontext.False, true
		}
	case "!!int":
		if plainDecimal(s, false) {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return jsontext.Float(float64(i)), true
			}
		}
	case "!!float":
		if plainDecimal(s, true) {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return jsontext.Float(f), true
			}
		}
	}
	return jsontext.Token{}, false
}

// plainDecimal reports whether s is -?(0|[1-9][0-9]*), followed by
// .[0-9]+ when frac: a number both YAML versions read alike.
func plainDecimal(s string, frac bool) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, fracPart, dot := strings.Cut(s, ".")
	if dot != frac || intPart == "" || len(intPart) > 1 && intPart[0] == '0' || !digits(intPart) {
		return false
	}
	return !frac || fracPart != "" && digits(fracPart)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// plainString reports whether yaml.v2 (YAML 1.1) reads the plain scalar s,
// which yaml.v3 read as a string, as the same string: not one of YAML
// 1.1's booleans and nothing that could be a number (a leading digit,
// sign or dot is declined unless it is plainly no number).
func plainString(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"on", "On", "ON", "off", "Off", "OFF", "<<", "=":
		return false
	}
	if s == "" {
		return true
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9', c == '-', c == '+', c == '.':
		// yaml.v2 tries integers (any base, "_" dropped), floats (and
		// .inf/.nan) and binary on these; keep the string only when none
		// could apply.
		t := strings.ReplaceAll(s, "_", "")
		if numberBytes(t) {
			if _, err := strconv.ParseFloat(t, 64); err == nil {
				return false
			}
			if _, err := strconv.ParseInt(t, 0, 64); err == nil {
				return false
			}
			if _, err := strconv.ParseUint(t, 0, 64); err == nil {
				return false
			}
		}
		low := strings.ToLower(strings.TrimLeft(t, "+-"))
		if strings.HasPrefix(low, "0b") || strings.HasPrefix(low, ".inf") || strings.HasPrefix(low, ".nan") || strings.HasPrefix(low, "inf") || strings.HasPrefix(low, "nan") {
			return false
		}
		if strings.ContainsAny(s, ":") && digits(strings.ReplaceAll(strings.ReplaceAll(t, ":", ""), ".", "")) {
			return false // base 60 (YAML 1.1), which yaml.v2 does not read, but be safe
		}
	}
	return true
}

// numberBytes reports whether every byte of s can be part of a number
// strconv.ParseFloat, ParseInt or ParseUint (base 0) reads: digits, signs,
// points, hexadecimal digits and exponents, the prefixes 0x, 0o and 0b,
// and the letters of inf, infinity and nan, in either case. When one is
// not, none of them reads s (and a failed parse allocates its error:
// quantities such as 500m or 128Mi are common in manifests).
func numberBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch l := c | 0x20; { // l is the lower case of a letter
		case c >= '0' && c <= '9', c == '.', c == '+', c == '-':
		case l >= 'a' && l <= 'f', l == 'x', l == 'o', l == 'p', l == 'i', l == 'n', l == 't', l == 'y':
		default:
			return false
		}
	}
	return true
}

// mayHaveTag reports whether raw may hold a tag: a "!" that starts a
// token. yaml.v3 keeps no trace of the non-specific tag "!" in its tree,
// so such documents are left to yaml.v2.
func mayHaveTag(raw []byte) bool {
	for i := bytes.IndexByte(raw, '!'); i >= 0; {
		if i == 0 {
			return true
		}
		switch raw[i-1] {
		case ' ', '\t', '\n', '\r', '[', '{', ',', '-', ':', '?':
			return true
		}
		j := bytes.IndexByte(raw[i+1:], '!')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return false
}
