package manifest

import (
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
)

// Compact is a decoded object kept as JSON text, for a caller that must
// drop the decoded object and have it again later: the text is a fraction
// of the memory of the decoded maps, and decoding it again (Object) costs
// a fraction of decoding the document's YAML again.
// NewCompact encodes a decoded object; Chunk.DecodeLean writes the JSON
// of a YAML document from its parsed tree, without the object.
type Compact []byte

// NewCompact encodes obj. ok is false when Object would not give back an
// object equal to obj: a value that is not one a JSON decoding gives (a
// number that is not a finite float64, a Go type other than nil, bool,
// float64, string, []any and map[string]any) or a string that is not
// valid UTF-8 (encoding/json would replace its bytes). Documents decoded
// from YAML or JSON text hold only such values, except strings a YAML
// tag (!!binary) made of arbitrary bytes.
func NewCompact(obj map[string]any) (c Compact, ok bool) {
	if !jsonExact(obj, 0) {
		return nil, false
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, false
	}
	return b, true
}

// Object decodes c again: an object equal to the one NewCompact was given.
// It decodes with github.com/go-json-experiment/json, which gives the
// values encoding/json gives (a compact form has no duplicate names and
// no invalid UTF-8, where the two differ) in about half the time.
func (c Compact) Object() (map[string]any, error) {
	var obj map[string]any
	if err := jsonv2.Unmarshal(c, &obj); err != nil {
		return nil, fmt.Errorf("decode compact object: %w", err)
	}
	return obj, nil
}

// jsonExact reports whether encoding/json encodes v and decodes it back
// to an equal value.
func jsonExact(v any, depth int) bool {
	if depth > maxNodeDepth {
		return false
	}
	switch t := v.(type) {
	case nil, bool:
		return true
	case float64:
		return !math.IsInf(t, 0) && !math.IsNaN(t)
	case string:
		return utf8.ValidString(t)
	case []any:
		for _, x := range t {
			if !jsonExact(x, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		for k, x := range t {
			if !utf8.ValidString(k) || !jsonExact(x, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
