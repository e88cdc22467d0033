package kubescape

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/open-policy-agent/opa/v1/ast"
)

// valueDecoder turns an object's JSON text into its Rego value straight
// from the tokens of jsontext, without the Go values (map[string]any)
// encoding/json would decode first: the value is the one
// ast.InterfaceToValue gives of encoding/json's decoding of the text
// (numbers as that decoding's float64 formats them, see number). Only text
// encoding/json would encode is accepted: one JSON value, valid UTF-8, no
// duplicate object names (jsontext's defaults); anything else is an
// error.
//
// A decoder keeps the strings and numbers it has made and gives the same
// value again for the same text (values are immutable), so the keys and
// common values of many objects are allocated once. It is not safe for
// concurrent use.
type valueDecoder struct {
	dec     jsontext.Decoder
	src     bytes.Buffer
	strs    map[string]ast.Value
	nums    map[string]ast.Value
	terms   []ast.Term     // the elements of the open arrays and objects
	pairs   [][2]*ast.Term // scratch for one object's members
	unquote []byte         // scratch for an escaped string
}

// maxShared bounds the strings and numbers a decoder keeps, and
// maxSharedLen the length of a string it keeps (longer ones are rarely
// repeated).
const (
	maxShared    = 1 << 14
	maxSharedLen = 64
)

func newValueDecoder() *valueDecoder {
	return &valueDecoder{strs: map[string]ast.Value{}, nums: map[string]ast.Value{}}
}

// decode returns the Rego value of text.
func (d *valueDecoder) decode(text []byte) (ast.Value, error) {
	d.src.Reset()
	d.src.Write(text)
	d.dec.Reset(&d.src)
	d.terms, d.pairs = d.terms[:0], d.pairs[:0]
	v, err := d.value()
	if err != nil {
		return nil, fmt.Errorf("decode object JSON: %w", err)
	}
	if _, err := d.dec.ReadToken(); err == nil {
		return nil, errors.New("decode object JSON: more than one value")
	}
	return v, nil
}

// value reads the next value.
func (d *valueDecoder) value() (ast.Value, error) {
	switch d.dec.PeekKind() {
	case 'n':
		if _, err := d.dec.ReadToken(); err != nil {
			return nil, err
		}
		return ast.NullValue, nil
	case 't', 'f':
		tok, err := d.dec.ReadToken()
		if err != nil {
			return nil, err
		}
		return ast.InternedValue(tok.Bool()), nil
	case '"':
		raw, err := d.dec.ReadValue()
		if err != nil {
			return nil, err
		}
		return d.str(raw)
	case '0':
		raw, err := d.dec.ReadValue()
		if err != nil {
			return nil, err
		}
		return d.number(raw)
	case '[':
		return d.array()
	case '{':
		return d.object()
	}
	// Not a value: the decoder's error says why.
	_, err := d.dec.ReadToken()
	if err == nil {
		err = errors.New("unexpected token")
	}
	return nil, err
}

func (d *valueDecoder) array() (ast.Value, error) {
	if _, err := d.dec.ReadToken(); err != nil {
		return nil, err
	}
	start := len(d.terms)
	for d.dec.PeekKind() != ']' {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.terms = append(d.terms, ast.Term{Value: v})
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return nil, err
	}
	elems := d.popTerms(start)
	return ast.NewArray(elems...), nil
}

func (d *valueDecoder) object() (ast.Value, error) {
	if _, err := d.dec.ReadToken(); err != nil {
		return nil, err
	}
	start := len(d.terms)
	for d.dec.PeekKind() != '}' {
		raw, err := d.dec.ReadValue()
		if err != nil {
			return nil, err
		}
		k, err := d.str(raw)
		if err != nil {
			return nil, err
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.terms = append(d.terms, ast.Term{Value: k}, ast.Term{Value: v})
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return nil, err
	}
	kvs := d.popTerms(start)
	pairs := d.pairs[:0]
	for i := 0; i < len(kvs); i += 2 {
		pairs = append(pairs, [2]*ast.Term{kvs[i], kvs[i+1]})
	}
	d.pairs = pairs[:0] // NewObject copies the pairs
	return ast.NewObject(pairs...), nil
}

// popTerms removes the terms from start on, and returns them in one
// allocation (their Terms in another).
func (d *valueDecoder) popTerms(start int) []*ast.Term {
	n := len(d.terms) - start
	block := make([]ast.Term, n)
	out := make([]*ast.Term, n)
	copy(block, d.terms[start:])
	for i := range block {
		out[i] = &block[i]
	}
	clear(d.terms[start:])
	d.terms = d.terms[:start]
	return out
}

// str is the value of a JSON string (raw, quoted, valid per the decoder).
func (d *valueDecoder) str(raw jsontext.Value) (ast.Value, error) {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		var err error
		if d.unquote, err = jsontext.AppendUnquote(d.unquote[:0], raw); err != nil {
			return nil, err
		}
		s = d.unquote
	}
	if v, ok := d.strs[string(s)]; ok {
		return v, nil
	}
	str := string(s)
	val := ast.Value(ast.String(str))
	if len(str) <= maxSharedLen && len(d.strs) < maxShared {
		d.strs[str] = val // the key shares the value's bytes
	}
	return val, nil
}

// number is the value of a JSON number (raw, valid per the decoder) as
// ast.InterfaceToValue gives it of the float64 encoding/json decodes:
// the shortest 'g' formatting of that float64 ("1e+06" for 1000000), which
// is the text itself for an integer of at most six digits.
func (d *valueDecoder) number(raw jsontext.Value) (ast.Value, error) {
	if v, ok := d.nums[string(raw)]; ok {
		return v, nil
	}
	var n ast.Number
	if shortInteger(raw) {
		n = ast.Number(raw)
	} else {
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", raw, err)
		}
		n = ast.Number(strconv.FormatFloat(f, 'g', -1, 64))
	}
	val := ast.Value(n)
	if len(d.nums) < maxShared {
		d.nums[string(raw)] = val
	}
	return val, nil
}

// shortInteger reports whether a valid JSON number is an integer of at
// most six digits (below 1e6, where 'g' formatting switches to an
// exponent), optionally negative.
func shortInteger(raw []byte) bool {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 6 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
