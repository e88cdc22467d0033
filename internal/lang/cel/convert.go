package cel

import (
	"math"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// jsonAdapter converts decoded JSON (map[string]any, []any, string,
// float64, bool, nil) into CEL values the way the API server sees an
// unstructured object.
//
// The API server decodes JSON into unstructured content whose whole numbers
// are int64 and whose other numbers are float64, and hands that content to
// types.DefaultTypeAdapter. Decoded JSON here only has float64, so a float64
// holding a whole number inside the int64 range is presented as a CEL int
// (so `object.spec.replicas > 1` and `runAsUser == 0` type-check and compare
// as they do in the cluster); every other number stays a CEL double. The one
// case that cannot be reproduced is a JSON literal written with a fraction
// part that is zero (`1.0`), which the API server keeps as a double.
//
// Maps and lists are wrapped lazily: nothing below the top level is
// converted until an expression reaches it.
type jsonAdapter struct{}

// adapter is the shared, stateless JSON adapter.
var adapter types.Adapter = jsonAdapter{}

// NativeToValue implements types.Adapter.
func (a jsonAdapter) NativeToValue(value any) ref.Val {
	switch v := value.(type) {
	case nil:
		return types.NullValue
	case ref.Val:
		return v
	case string:
		return types.String(v)
	case bool:
		return types.Bool(v)
	case float64:
		return numberToVal(v)
	case float32:
		return numberToVal(float64(v))
	case int:
		return types.Int(v)
	case int32:
		return types.Int(v)
	case int64:
		return types.Int(v)
	case map[string]any:
		if v == nil {
			return types.NullValue
		}
		return types.NewStringInterfaceMap(a, v)
	case []any:
		if v == nil {
			return types.NullValue
		}
		return types.NewDynamicList(a, v)
	case []map[string]any:
		items := make([]any, len(v))
		for i := range v {
			items[i] = v[i]
		}
		return types.NewDynamicList(a, items)
	case []string:
		return types.NewStringList(a, v)
	case map[string]string:
		return types.NewStringStringMap(a, v)
	}
	return types.DefaultTypeAdapter.NativeToValue(value)
}

// numberToVal maps a JSON number to int when it is whole and fits int64.
func numberToVal(f float64) ref.Val {
	if f == math.Trunc(f) && f >= -9.223372036854775808e18 && f < 9.223372036854775808e18 && !math.IsInf(f, 0) {
		return types.Int(int64(f))
	}
	return types.Double(f)
}

// ToValue converts decoded JSON to a CEL value with the same conversion the
// package applies to object, oldObject, params and the other inputs.
func ToValue(v any) ref.Val {
	return adapter.NativeToValue(v)
}
