package jmespath

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/portcullis/portcullis/internal/imageref"
)

func dataFunctions(i *Interpreter) []fnSpec {
	return []fnSpec{
		{name: "parse_json", args: []kind{kString}, ret: "any",
			note: "decodes a valid JSON encoded string to the appropriate type. Opposite of `to_string` function",
			handler: func(a []any) (any, error) {
				var out any
				if err := json.Unmarshal([]byte(a[0].(string)), &out); err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "parse_json", err)
				}
				return out, nil
			}},
		{name: "parse_yaml", args: []kind{kString}, ret: "any",
			note: "decodes a valid YAML encoded string to the appropriate type provided it can be represented as JSON",
			handler: func(a []any) (any, error) {
				raw, err := yaml.YAMLToJSON([]byte(a[0].(string)))
				if err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "parse_yaml", err)
				}
				var out any
				if err := json.Unmarshal(raw, &out); err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "parse_yaml", err)
				}
				return out, nil
			}},
		{name: "lookup", args: []kind{kObject | kArray, kString | kNumber}, ret: "any",
			note:    "returns the value corresponding to the given key/index in the given object/array",
			handler: lookupFn},
		{name: "items", args: []kind{kObject | kArray, kString, kString}, ret: "array",
			note:    "converts a map or array to an array of objects where each key:value is an item in the array",
			handler: itemsFn},
		{name: "object_from_lists", args: []kind{kArray, kArray}, ret: "object",
			note: "converts a pair of lists containing keys and values to an object",
			handler: func(a []any) (any, error) {
				keys, values := a[0].([]any), a[1].([]any)
				out := make(map[string]any, len(keys))
				for idx, k := range keys {
					key, err := scalarString(k)
					if err != nil {
						return nil, fmt.Errorf(errArgType, "object_from_lists", 1, "StringArray")
					}
					if idx < len(values) {
						out[key] = values[idx]
					} else {
						out[key] = nil
					}
				}
				return out, nil
			}},
		{name: "random", args: []kind{kString}, ret: "string",
			note: "Generates a random sequence of characters",
			handler: func(a []any) (any, error) {
				s, err := randomFromRegex(a[0].(string))
				if err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "random", err)
				}
				return s, nil
			}},
		{name: "x509_decode", args: []kind{kString}, ret: "object",
			note: "decodes an x.509 certificate to an object. you may also use this in conjunction with `base64_decode` jmespath function to decode a base64-encoded certificate",
			handler: func(a []any) (any, error) {
				out, err := x509Decode(a[0].(string))
				if err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "x509_decode", err)
				}
				return out, nil
			}},
		{name: "image_normalize", args: []kind{kString}, ret: "string",
			note: "normalizes an image reference",
			handler: func(a []any) (any, error) {
				ref, err := imageref.Parse(a[0].(string), imageref.Kyverno(i.registry))
				if err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "image_normalize", err)
				}
				return ref.Info().Reference, nil
			}},
		// Panic-free replacement for the library's contains, which compares
		// array elements with == and panics on two objects.
		{name: "contains", args: []kind{kArray | kString, kAny}, ret: "boolean", hidden: true,
			handler: func(a []any) (any, error) {
				if s, ok := a[0].(string); ok {
					sub, ok := a[1].(string)
					return ok && strings.Contains(s, sub), nil
				}
				for _, item := range a[0].([]any) {
					if sameValue(item, a[1]) {
						return true, nil
					}
				}
				return false, nil
			}},
	}
}

func lookupFn(a []any) (any, error) {
	switch in := a[0].(type) {
	case map[string]any:
		key, ok := a[1].(string)
		if !ok {
			return nil, fmt.Errorf(errArgType, "lookup", 2, "String")
		}
		return in[key], nil
	default:
		arr := in.([]any)
		f, ok := toFloat(a[1])
		if !ok {
			return nil, fmt.Errorf(errArgType, "lookup", 2, "Number")
		}
		idx, err := intNumber(f)
		if err != nil {
			return nil, fmt.Errorf(errPrefix+"argument #2: %w", "lookup", err)
		}
		if idx < 0 || idx >= len(arr) {
			return nil, nil
		}
		return arr[idx], nil
	}
}

// itemsFn returns objects {keyName: key, valName: value}: for an object one
// per key in sorted key order, for an array one per element with the index
// (a number) as key.
func itemsFn(a []any) (any, error) {
	keyName, valName := a[1].(string), a[2].(string)
	switch in := a[0].(type) {
	case map[string]any:
		keys := make([]string, 0, len(in))
		for k := range in {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, 0, len(keys))
		for _, k := range keys {
			out = append(out, map[string]any{keyName: k, valName: in[k]})
		}
		return out, nil
	default:
		arr := in.([]any)
		out := make([]any, 0, len(arr))
		for idx, v := range arr {
			out = append(out, map[string]any{keyName: float64(idx), valName: v})
		}
		return out, nil
	}
}
