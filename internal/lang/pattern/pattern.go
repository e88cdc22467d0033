package pattern

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/portcullis/portcullis/internal/wildcard"
)

// Pattern is a compiled validation pattern. It is immutable and safe for
// concurrent use by multiple goroutines.
type Pattern struct {
	root *node
	// tracked is the number of distinct conditional/existence anchor keys,
	// whose presence Kyverno records to decide between fail and error.
	tracked int
}

// Options tunes how resource values are interpreted by ValidateWithOptions.
type Options struct {
	// FloatNumbers makes integral float64 resource values behave as
	// floats instead of integers. Kyverno sees integers in the admitted
	// resource as int64 (the default here), but sees every number of a
	// foreach element (which comes out of a JMESPath query) as float64.
	// The difference only shows in string patterns applied to numbers,
	// e.g. "8*" matches the integer 80 but not the float 80 (which Kyverno
	// renders as "8E+01").
	FloatNumbers bool
}

type nodeKind uint8

const (
	nodeScalar nodeKind = iota
	nodeMap
	nodeArray
)

type scalarKind uint8

const (
	scalarNil scalarKind = iota
	scalarBool
	scalarNumber
	scalarString
)

type arrayMode uint8

const (
	arrayEmpty      arrayMode = iota // [] - always an error in Kyverno
	arrayOfMaps                      // first element is a map
	arrayOfScalars                   // first element is a scalar
	arrayPositional                  // anything else: element by element
)

// node is one compiled pattern element.
type node struct {
	kind nodeKind

	// scalar
	scalar scalarKind
	b      bool
	num    float64
	str    stringPattern
	raw    any // the scalar as written, for messages

	// map
	anchors []*entry // conditional, equality, negation, existence: sorted by raw key
	fields  []*entry // plain keys, global and add anchors: nested-anchor keys first
	tracks  []track  // anchor keys whose presence is recorded
	// expandKeys is set for metadata.labels / metadata.annotations maps:
	// wildcard keys are replaced by a matching resource key.
	expandKeys bool

	// array
	mode  arrayMode
	elems []*node // arrayOfMaps/arrayOfScalars: only the first; positional: all
}

// entry is one key of a map pattern.
type entry struct {
	raw    string
	key    string // key without anchor
	anchor anchorKind
	val    *node
	star   bool // value is exactly "*"
	wild   bool // key contains wildcards and the parent map expands keys
	// existence anchors
	exist        []*node // compiled pattern maps, nil entries for non-maps
	existNotList string  // non-empty when the value is not a list: its type name
}

// track records one anchor key whose presence Kyverno tracks.
type track struct {
	idx int
	key string
}

// compiler holds compile-time state.
type compiler struct {
	trackIdx map[string]int
}

// Compile compiles a pattern (a JSON-like value made of map[string]any,
// []any, string, numbers, bool and nil). It precomputes anchors, operators,
// durations and quantities so that Validate does no parsing of the pattern.
//
// Compile follows Kyverno's runtime semantics and is therefore lenient:
// malformed anchors are plain keys, meaningless operator expressions simply
// never match, an empty array always mismatches. It only fails, with a
// *SyntaxError, for Go values that cannot appear in JSON (e.g. structs or
// channels). Use Check for the strict load-time check of a policy.
func Compile(pattern any) (*Pattern, error) {
	c := &compiler{trackIdx: map[string]int{}}
	root, err := c.compile(pattern, "", false)
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root, tracked: len(c.trackIdx)}, nil
}

// Validate compiles pattern and matches resource against it; it is a
// convenience for one-off matches. It returns a *SyntaxError (wrapped) when
// the pattern cannot be compiled, nil when the resource matches, and a
// *Error otherwise.
func Validate(resource, pattern any) error {
	p, err := Compile(pattern)
	if err != nil {
		return fmt.Errorf("compile pattern: %w", err)
	}
	return p.Validate(resource)
}

func (c *compiler) compile(v any, path string, expandKeys bool) (*node, error) {
	switch t := v.(type) {
	case nil:
		return &node{kind: nodeScalar, scalar: scalarNil}, nil
	case bool:
		return &node{kind: nodeScalar, scalar: scalarBool, b: t, raw: t}, nil
	case string:
		return &node{kind: nodeScalar, scalar: scalarString, str: compileString(t), raw: t}, nil
	case map[string]any:
		return c.compileMap(t, path, expandKeys)
	case []any:
		return c.compileArray(t, path)
	}
	if f, ok := patternNumber(v); ok {
		return &node{kind: nodeScalar, scalar: scalarNumber, num: f, raw: f}, nil
	}
	return nil, &SyntaxError{Path: path, Reason: fmt.Sprintf("unsupported value type %T", v)}
}

// patternNumber converts any Go number to the float64 Kyverno sees in a
// JSON-decoded pattern.
func patternNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int16:
		return float64(n), true
	case int8:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint8:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

func (c *compiler) compileMap(m map[string]any, path string, expandKeys bool) (*node, error) {
	n := &node{kind: nodeMap}
	if expandKeys {
		// Kyverno only expands when every value is a string (it would
		// panic otherwise).
		for _, v := range m {
			if _, ok := v.(string); !ok {
				expandKeys = false
				break
			}
		}
	}
	n.expandKeys = expandKeys
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var nested, plain []*entry
	for _, k := range keys {
		v := m[k]
		kind, bare := parseAnchor(k)
		e := &entry{raw: k, key: bare, anchor: kind}
		childPath := path + "/" + k
		if kind == anchorExistence {
			if err := c.compileExistence(e, v, childPath); err != nil {
				return nil, err
			}
		} else {
			var val *node
			var err error
			if mv, ok := v.(map[string]any); ok && bare == "metadata" {
				val, err = c.compileMetadata(mv, childPath)
			} else {
				val, err = c.compile(v, childPath, false)
			}
			if err != nil {
				return nil, err
			}
			e.val = val
		}
		if s, ok := v.(string); ok && s == "*" {
			e.star = true
		}
		if expandKeys && wildcard.ContainsWildcard(bare) {
			e.wild = true
		}
		switch kind {
		case anchorCondition, anchorExistence:
			idx, ok := c.trackIdx[k]
			if !ok {
				idx = len(c.trackIdx)
				c.trackIdx[k] = idx
			}
			n.tracks = append(n.tracks, track{idx: idx, key: bare})
			n.anchors = append(n.anchors, e)
		case anchorEquality, anchorNegation:
			n.anchors = append(n.anchors, e)
		default:
			if kind == anchorGlobal || hasNestedAnchors(v) {
				nested = append(nested, e)
			} else {
				plain = append(plain, e)
			}
		}
	}
	n.fields = append(nested, plain...)
	return n, nil
}

// compileMetadata compiles a metadata map: its labels and annotations maps
// get wildcard key expansion, like Kyverno's wildcards.ExpandInMetadata.
func (c *compiler) compileMetadata(m map[string]any, path string) (*node, error) {
	n, err := c.compileMap(m, path, false)
	if err != nil {
		return nil, err
	}
	for _, list := range [][]*entry{n.anchors, n.fields} {
		for _, e := range list {
			if (e.key == "labels" || e.key == "annotations") && e.val != nil && e.val.kind == nodeMap {
				sub, err := c.compileMap(m[e.raw].(map[string]any), path+"/"+e.raw, true)
				if err != nil {
					return nil, err
				}
				e.val = sub
			}
		}
	}
	return n, nil
}

func (c *compiler) compileExistence(e *entry, v any, path string) error {
	list, ok := v.([]any)
	if !ok {
		e.existNotList = patternTypeName(v)
		// still compile the value so that bad Go types are reported
		_, err := c.compile(v, path, false)
		return err
	}
	e.exist = make([]*node, len(list))
	for i, item := range list {
		itemPath := path + "/" + strconv.Itoa(i)
		sub, err := c.compile(item, itemPath, false)
		if err != nil {
			return err
		}
		if sub.kind == nodeMap {
			e.exist[i] = sub
		}
	}
	return nil
}

func patternTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "<nil>"
	case map[string]any:
		return "map[string]interface {}"
	case []any:
		return "[]interface {}"
	}
	if _, ok := patternNumber(v); ok {
		return "float64"
	}
	return fmt.Sprintf("%T", v)
}

func (c *compiler) compileArray(a []any, path string) (*node, error) {
	n := &node{kind: nodeArray}
	if len(a) == 0 {
		n.mode = arrayEmpty
		return n, nil
	}
	first, err := c.compile(a[0], path+"/0", false)
	if err != nil {
		return nil, err
	}
	switch first.kind {
	case nodeMap:
		n.mode = arrayOfMaps
		n.elems = []*node{first}
		return n, nil
	case nodeScalar:
		n.mode = arrayOfScalars
		n.elems = []*node{first}
		return n, nil
	}
	n.mode = arrayPositional
	n.elems = append(n.elems, first)
	for i := 1; i < len(a); i++ {
		sub, err := c.compile(a[i], path+"/"+strconv.Itoa(i), false)
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, sub)
	}
	return n, nil
}

// hasNestedAnchors reports whether a pattern value contains, at any depth,
// a conditional, existence, equality, negation or global anchor key.
func hasNestedAnchors(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		for k, sub := range t {
			if kind, _ := parseAnchor(k); kind != anchorNone && kind != anchorAdd {
				return true
			}
			if hasNestedAnchors(sub) {
				return true
			}
		}
	case []any:
		for _, sub := range t {
			if hasNestedAnchors(sub) {
				return true
			}
		}
	}
	return false
}

// state is the per-call matching state.
type state struct {
	floats bool
	buf    []byte
	seen   []uint64
	found  []uint64
	inline [2][2]uint64
	pbuf   [256]byte
}

// Validate matches resource (a JSON-like value) against the pattern. It
// returns nil when the resource matches and a *Error otherwise; see Error
// for how to map it to a Kyverno rule status. Integral float64 values are
// treated as integers, as Kyverno does for admitted resources (see Options).
func (p *Pattern) Validate(resource any) error {
	return p.ValidateWithOptions(resource, Options{})
}

// ValidateWithOptions is Validate with explicit Options.
func (p *Pattern) ValidateWithOptions(resource any, opts Options) error {
	var st state
	st.floats = opts.FloatNumbers
	st.buf = append(st.pbuf[:0], '/')
	words := (p.tracked + 63) / 64
	if words <= 2 {
		st.seen = st.inline[0][:words]
		st.found = st.inline[1][:words]
	} else {
		st.seen = make([]uint64, words)
		st.found = make([]uint64, words)
	}
	e := p.root.validate(&st, resource)
	if e == nil {
		return nil
	}
	msg := e.message()
	switch {
	case e.skip():
		return &Error{Message: msg, Skip: true}
	case e.kind == errNegation:
		return &Error{Path: e.path, Message: msg}
	case st.keysMissing():
		return &Error{Message: msg}
	default:
		return &Error{Path: e.path, Message: msg}
	}
}

// keysMissing mirrors Kyverno's AnchorMap.KeysAreMissing for the tracked
// (conditional and existence) anchor keys.
func (st *state) keysMissing() bool {
	for i := range st.seen {
		if st.seen[i]&^st.found[i] != 0 {
			return true
		}
	}
	return false
}

func (st *state) path() string { return string(st.buf) }

func (st *state) pushKey(k string) int {
	n := len(st.buf)
	st.buf = append(st.buf, k...)
	st.buf = append(st.buf, '/')
	return n
}

func (st *state) pushIndex(i int) int {
	n := len(st.buf)
	st.buf = strconv.AppendInt(st.buf, int64(i), 10)
	st.buf = append(st.buf, '/')
	return n
}

func (st *state) pop(n int) { st.buf = st.buf[:n] }

// validate mirrors Kyverno's validateResourceElement. The current path is
// st.buf.
func (n *node) validate(st *state, res any) *verr {
	switch n.kind {
	case nodeMap:
		rm, ok := res.(map[string]any)
		if !ok {
			p := st.path()
			return &verr{code: msgMapStructure, path: p, at: p, val: res}
		}
		return n.validateMap(st, rm)
	case nodeArray:
		ra, ok := res.([]any)
		if !ok {
			p := st.path()
			return &verr{code: msgArrayStructure, path: p, at: p}
		}
		return n.validateArray(st, ra)
	}
	if ra, ok := res.([]any); ok {
		for _, item := range ra {
			if !n.matchScalar(item, st.floats) {
				p := st.path()
				return &verr{code: msgValue, path: p, at: p, val: res, pat: n.raw}
			}
		}
		return nil
	}
	if !n.matchScalar(res, st.floats) {
		p := st.path()
		return &verr{code: msgValue, path: p, at: p, val: res, pat: n.raw}
	}
	return nil
}

func (n *node) matchScalar(v any, floats bool) bool {
	switch n.scalar {
	case scalarNil:
		return matchNil(v, floats)
	case scalarBool:
		b, ok := v.(bool)
		return ok && b == n.b
	case scalarNumber:
		return matchNumber(n.num, v, floats)
	default:
		return n.str.match(v, floats)
	}
}

func (n *node) validateMap(st *state, rm map[string]any) *verr {
	for _, t := range n.tracks {
		word, bit := t.idx/64, uint64(1)<<(t.idx%64)
		st.seen[word] |= bit
		if st.found[word]&bit == 0 {
			if _, ok := rm[t.key]; ok {
				st.found[word] |= bit
			}
		}
	}
	for _, e := range n.anchors {
		if err := e.handle(st, rm); err != nil {
			return err
		}
	}
	for _, e := range n.fields {
		if err := e.handle(st, rm); err != nil {
			return err
		}
	}
	return nil
}

// resolveKey returns the resource key an entry applies to: its bare key, or
// for wildcard label/annotation keys the smallest matching resource key
// (Kyverno picks an arbitrary one; we are deterministic).
func (e *entry) resolveKey(rm map[string]any) string {
	if !e.wild {
		return e.key
	}
	best, found := "", false
	for k := range rm {
		if wildcard.Match(e.key, k) && (!found || k < best) {
			best, found = k, true
		}
	}
	if !found {
		return e.key
	}
	return best
}

// handle mirrors Kyverno's anchor handlers.
func (e *entry) handle(st *state, rm map[string]any) *verr {
	key := e.resolveKey(rm)
	switch e.anchor {
	case anchorAdd:
		return nil
	case anchorNone:
		v := rm[key]
		if e.star {
			if v != nil {
				return nil
			}
			p := st.path()
			return &verr{code: msgNotFound, path: p, at: p, key: key}
		}
		mark := st.pushKey(key)
		err := e.val.validate(st, v)
		st.pop(mark)
		return err
	case anchorCondition, anchorGlobal:
		v, ok := rm[key]
		if !ok {
			if e.anchor == anchorGlobal {
				return nil
			}
			mark := st.pushKey(key)
			p := st.path()
			st.pop(mark)
			return &verr{kind: errConditional, code: msgCondMissing, path: p}
		}
		mark := st.pushKey(key)
		err := e.val.validate(st, v)
		st.pop(mark)
		if err == nil {
			return nil
		}
		kind := errConditional
		if e.anchor == anchorGlobal {
			kind = errGlobal
		}
		return &verr{kind: kind, code: msgWrap, path: err.path, inner: err}
	case anchorEquality:
		v, ok := rm[key]
		if !ok {
			return nil
		}
		mark := st.pushKey(key)
		err := e.val.validate(st, v)
		st.pop(mark)
		return err
	case anchorNegation:
		if _, ok := rm[key]; !ok {
			return nil
		}
		mark := st.pushKey(key)
		p := st.path()
		st.pop(mark)
		return &verr{kind: errNegation, code: msgNegation, path: p, at: p}
	case anchorExistence:
		v, ok := rm[key]
		if !ok {
			return nil
		}
		mark := st.pushKey(key)
		defer st.pop(mark)
		return e.existence(st, v)
	}
	return nil
}

// existence mirrors Kyverno's existence handler: every pattern map must be
// matched by at least one element of the resource list.
func (e *entry) existence(st *state, v any) *verr {
	list, ok := v.([]any)
	if !ok {
		p := st.path()
		return &verr{code: msgExistenceResource, path: p, val: v}
	}
	if e.existNotList != "" {
		p := st.path()
		return &verr{code: msgExistencePatternList, path: p, key: e.existNotList}
	}
	for _, pm := range e.exist {
		if pm == nil {
			p := st.path()
			return &verr{code: msgExistencePatternMap, path: p}
		}
		matched := false
		for i, item := range list {
			mark := st.pushIndex(i)
			err := pm.validate(st, item)
			st.pop(mark)
			if err == nil {
				matched = true
				break
			}
		}
		if !matched {
			p := st.path()
			return &verr{code: msgExistence, path: p, at: p}
		}
	}
	return nil
}

// validateArray mirrors Kyverno's validateArray / validateArrayOfMaps.
func (n *node) validateArray(st *state, ra []any) *verr {
	switch n.mode {
	case arrayEmpty:
		return &verr{code: msgArrayEmpty, path: st.path()}
	case arrayOfScalars:
		return n.elems[0].validate(st, ra)
	case arrayPositional:
		if len(ra) < len(n.elems) {
			return &verr{code: msgArrayLength, n1: len(ra), n2: len(n.elems)}
		}
	}
	applied := 0
	var skipped []*verr
	count := len(ra)
	if n.mode == arrayPositional {
		count = len(n.elems)
	}
	for i := 0; i < count; i++ {
		pat := n.elems[0]
		if n.mode == arrayPositional {
			pat = n.elems[i]
		}
		mark := st.pushIndex(i)
		err := pat.validate(st, ra[i])
		st.pop(mark)
		if err != nil {
			if err.skip() {
				skipped = append(skipped, err)
				continue
			}
			return err
		}
		applied++
	}
	if applied == 0 && len(skipped) > 0 {
		return &verr{kind: errSkipList, code: msgSkipList, path: st.path(), list: skipped}
	}
	return nil
}
