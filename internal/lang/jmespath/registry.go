package jmespath

import (
	"fmt"
	"strings"

	gojmespath "github.com/kyverno/go-jmespath"
)

// Error message formats, following Kyverno's wording.
const (
	errPrefix        = "JMESPath function '%s': "
	errArgType       = errPrefix + "argument #%d is not of type %s"
	errGeneric       = errPrefix + "%s"
	errZeroDivision  = errPrefix + "Zero divisor passed"
	errNonIntModulo  = errPrefix + "Non-integer argument(s) passed for modulo"
	errTypeMismatch  = errPrefix + "Types mismatch"
	errNonIntRound   = errPrefix + "Non-integer argument(s) passed for round off"
	errArgOutOfRange = errPrefix + "argument #%d is out of bounds"
)

// kind is a bit set of accepted JMESPath argument types.
type kind uint8

const (
	kString kind = 1 << iota
	kNumber
	kObject
	kArray
	kBool
	kAny kind = 0xff
)

func (k kind) String() string {
	if k == kAny {
		return "any"
	}
	var parts []string
	for _, p := range []struct {
		k    kind
		name string
	}{{kString, "string"}, {kNumber, "number"}, {kObject, "object"}, {kArray, "array"}, {kBool, "boolean"}} {
		if k&p.k != 0 {
			parts = append(parts, p.name)
		}
	}
	return strings.Join(parts, "|")
}

// accepts reports whether v has one of the kinds in k.
func (k kind) accepts(v any) bool {
	if k == kAny {
		return true
	}
	switch v.(type) {
	case string:
		return k&kString != 0
	case map[string]any:
		return k&kObject != 0
	case []any:
		return k&kArray != 0
	case bool:
		return k&kBool != 0
	case nil:
		return false
	}
	if _, ok := toFloat(v); ok {
		return k&kNumber != 0
	}
	return false
}

// fnSpec is one custom function: its declared signature and handler.
type fnSpec struct {
	name    string
	args    []kind // nil: no arity check (as in the library)
	ret     string
	note    string
	hidden  bool // registered but not listed (overrides of builtins)
	handler func(args []any) (any, error)
}

// entry converts the spec to a library entry. Arguments are declared as
// "any" so that the library only checks arity; the type check happens in
// the wrapper, which accepts every Go numeric type and reports the function
// name and argument position on mismatch.
func (s fnSpec) entry() gojmespath.FunctionEntry {
	specs := make([]gojmespath.ArgSpec, len(s.args))
	for i := range specs {
		specs[i] = gojmespath.ArgSpec{Types: []gojmespath.JpType{gojmespath.JpAny}}
	}
	name, kinds, h := s.name, s.args, s.handler
	return gojmespath.FunctionEntry{
		Name:      name,
		Arguments: specs,
		Handler: func(args []any) (any, error) {
			for i, k := range kinds {
				if i < len(args) && !k.accepts(args[i]) {
					return nil, fmt.Errorf(errArgType, name, i+1, k)
				}
			}
			return h(args)
		},
	}
}

func (s fnSpec) info() FunctionInfo {
	args := make([]string, len(s.args))
	for i, k := range s.args {
		args[i] = k.String()
	}
	return FunctionInfo{Name: s.name, Arguments: args, ReturnType: s.ret, Note: s.note}
}

// functionSpecs returns the full custom library bound to i.
func (i *Interpreter) functionSpecs() []fnSpec {
	var specs []fnSpec
	specs = append(specs, stringFunctions(i)...)
	specs = append(specs, arithmeticFunctions()...)
	specs = append(specs, timeFunctions(i)...)
	specs = append(specs, dataFunctions(i)...)
	return specs
}
