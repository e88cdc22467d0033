package jmespath

import (
	"fmt"
	"github.com/portcullis/portcullis/internal/quantity"
	"math"
	"time"

	"gopkg.in/inf.v0"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Kyverno's arithmetic works on three operand kinds:
//
//   - scalar: a JSON number;
//   - quantity: a string that parses as a Kubernetes resource quantity
//     ("12Ki", "250m", "3" - note that bare numeric strings and "30m" are
//     quantities, "m" being milli);
//   - duration: a string that is not a quantity but parses with
//     time.ParseDuration ("1h", "1m30s").
//
// Results that are quantities or durations are returned in canonical string
// form; scalar results are float64. Mixing kinds fails with "Types mismatch"
// except where the operation defines a result (see each operator).

type operandKind uint8

const (
	opScalar operandKind = iota
	opQuantity
	opDuration
)

type operand struct {
	kind operandKind
	f    float64
	q    resource.Quantity
	d    time.Duration
}

func parseOperand(v any) (operand, bool) {
	if f, ok := toFloat(v); ok {
		return operand{kind: opScalar, f: f}, true
	}
	s, ok := v.(string)
	if !ok {
		return operand{}, false
	}
	if q, err := quantity.Parse(s); err == nil {
		return operand{kind: opQuantity, q: q}, true
	}
	if d, err := time.ParseDuration(s); err == nil {
		return operand{kind: opDuration, d: d}, true
	}
	return operand{}, false
}

func parseOperands(a []any, name string) (operand, operand, error) {
	x, ok1 := parseOperand(a[0])
	y, ok2 := parseOperand(a[1])
	if !ok1 || !ok2 {
		return operand{}, operand{}, fmt.Errorf(errGeneric, name, "invalid operands")
	}
	return x, y, nil
}

func arithmeticFunctions() []fnSpec {
	bin := func(name, note string, op func(x, y operand, name string) (any, error)) fnSpec {
		return fnSpec{name: name, args: []kind{kAny, kAny}, ret: "any", note: note,
			handler: func(a []any) (any, error) {
				x, y, err := parseOperands(a, name)
				if err != nil {
					return nil, err
				}
				return op(x, y, name)
			}}
	}
	return []fnSpec{
		bin("add", "does arithmetic addition of two specified values of numbers, quantities, and durations", addOp),
		{name: "sum", args: []kind{kArray}, ret: "any",
			note:    "does arithmetic addition of specified array of values of numbers, quantities, and durations",
			handler: sumFn},
		bin("subtract", "does arithmetic subtraction of two specified values of numbers, quantities, and durations", subOp),
		bin("multiply", "does arithmetic multiplication of two specified values of numbers, quantities, and durations", mulOp),
		bin("divide", "divisor must be non zero", divOp),
		bin("modulo", "divisor must be non-zero, arguments must be integers", modOp),
		{name: "round", args: []kind{kNumber, kNumber}, ret: "number",
			note: "does roundoff to upto the given decimal places",
			handler: func(a []any) (any, error) {
				digits, err := intNumber(num(a[1]))
				if err != nil {
					return nil, fmt.Errorf(errNonIntRound, "round")
				}
				if digits < 0 {
					return nil, fmt.Errorf(errArgOutOfRange, "round", 2)
				}
				shift := math.Pow(10, float64(digits))
				return math.Round(num(a[0])*shift) / shift, nil
			}},
	}
}

// addOp: scalar+scalar, quantity+quantity, duration+duration.
func addOp(x, y operand, name string) (any, error) {
	if x.kind != y.kind {
		return nil, fmt.Errorf(errTypeMismatch, name)
	}
	switch x.kind {
	case opQuantity:
		q := x.q.DeepCopy()
		q.Add(y.q)
		return q.String(), nil
	case opDuration:
		return (x.d + y.d).String(), nil
	default:
		return x.f + y.f, nil
	}
}

// sumFn folds add over a non-empty array. A one-element array returns its
// element unchanged (whatever its type), as in Kyverno.
func sumFn(a []any) (any, error) {
	items := a[0].([]any)
	if len(items) == 0 {
		return nil, fmt.Errorf(errGeneric, "sum", "at least one element in the array is required")
	}
	acc := items[0]
	for _, item := range items[1:] {
		x, y, err := parseOperands([]any{acc, item}, "sum")
		if err != nil {
			return nil, err
		}
		if acc, err = addOp(x, y, "sum"); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// subOp mirrors addOp.
func subOp(x, y operand, name string) (any, error) {
	if x.kind != y.kind {
		return nil, fmt.Errorf(errTypeMismatch, name)
	}
	switch x.kind {
	case opQuantity:
		q := x.q.DeepCopy()
		q.Sub(y.q)
		return q.String(), nil
	case opDuration:
		return (x.d - y.d).String(), nil
	default:
		return x.f - y.f, nil
	}
}

// mulOp: scalar*scalar -> scalar; quantity*scalar and scalar*quantity ->
// quantity; duration*scalar and scalar*duration -> duration; anything else
// is a mismatch.
func mulOp(x, y operand, name string) (any, error) {
	if x.kind == opScalar && y.kind != opScalar {
		x, y = y, x
	}
	if y.kind != opScalar {
		return nil, fmt.Errorf(errTypeMismatch, name)
	}
	switch x.kind {
	case opQuantity:
		factor, err := quantity.Parse(fmt.Sprintf("%v", y.f))
		if err != nil {
			return nil, fmt.Errorf(errPrefix+"%w", name, err)
		}
		var prod inf.Dec
		prod.Mul(x.q.AsDec(), factor.AsDec())
		return resource.NewDecimalQuantity(prod, x.q.Format).String(), nil
	case opDuration:
		secs := x.d.Seconds() * y.f
		return time.Duration(secs * float64(time.Second)).String(), nil
	default:
		return x.f * y.f, nil
	}
}

// divOp: quantity/quantity -> scalar; quantity/scalar -> quantity
// (rounded down at the larger of the two scales); duration/duration ->
// scalar; duration/scalar -> duration; scalar/scalar -> scalar. A zero
// divisor fails with "Zero divisor passed".
func divOp(x, y operand, name string) (any, error) {
	zero := fmt.Errorf(errZeroDivision, name)
	switch {
	case x.kind == opQuantity && y.kind == opQuantity:
		divisor := y.q.AsApproximateFloat64()
		if divisor == 0 {
			return nil, zero
		}
		return x.q.AsApproximateFloat64() / divisor, nil
	case x.kind == opQuantity && y.kind == opScalar:
		if y.f == 0 {
			return nil, zero
		}
		d, err := quantity.Parse(fmt.Sprintf("%v", y.f))
		if err != nil {
			return nil, fmt.Errorf(errPrefix+"%w", name, err)
		}
		dividend, divisor := x.q.AsDec(), d.AsDec()
		scale := dividend.Scale()
		if divisor.Scale() > scale {
			scale = divisor.Scale()
		}
		var quo inf.Dec
		quo.QuoRound(dividend, divisor, scale, inf.RoundDown)
		return resource.NewDecimalQuantity(quo, x.q.Format).String(), nil
	case x.kind == opDuration && y.kind == opDuration:
		if y.d == 0 {
			return nil, zero
		}
		return x.d.Seconds() / y.d.Seconds(), nil
	case x.kind == opDuration && y.kind == opScalar:
		if y.f == 0 {
			return nil, zero
		}
		return time.Duration(x.d.Seconds() / y.f * float64(time.Second)).String(), nil
	case x.kind == opScalar && y.kind == opScalar:
		if y.f == 0 {
			return nil, zero
		}
		return x.f / y.f, nil
	}
	return nil, fmt.Errorf(errTypeMismatch, name)
}

// modOp: same-kind operands only. Scalars and quantities must be integral;
// quantity%quantity yields a quantity, duration%duration a duration.
func modOp(x, y operand, name string) (any, error) {
	if x.kind != y.kind {
		return nil, fmt.Errorf(errTypeMismatch, name)
	}
	switch x.kind {
	case opDuration:
		if y.d == 0 {
			return nil, fmt.Errorf(errZeroDivision, name)
		}
		return (x.d % y.d).String(), nil
	case opQuantity:
		i1, i2, err := integralPair(x.q.AsApproximateFloat64(), y.q.AsApproximateFloat64(), name)
		if err != nil {
			return nil, err
		}
		return resource.NewQuantity(i1%i2, x.q.Format).String(), nil
	default:
		i1, i2, err := integralPair(x.f, y.f, name)
		if err != nil {
			return nil, err
		}
		return float64(i1 % i2), nil
	}
}

func integralPair(f1, f2 float64, name string) (int64, int64, error) {
	i1, i2 := int64(f1), int64(f2)
	if f1 != float64(i1) || f2 != float64(i2) || math.IsNaN(f1) || math.IsNaN(f2) {
		return 0, 0, fmt.Errorf(errNonIntModulo, name)
	}
	if i2 == 0 {
		return 0, 0, fmt.Errorf(errZeroDivision, name)
	}
	if i2 == -1 {
		// Avoid the MinInt64 % -1 overflow trap; the remainder is always 0.
		return 0, 1, nil
	}
	return i1, i2, nil
}
