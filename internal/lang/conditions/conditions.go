package conditions

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownOperator is returned (wrapped) by Evaluate, EvaluateBlock and
// EvaluateList when a condition names an operator Kyverno does not know.
var ErrUnknownOperator = errors.New("unknown condition operator")

// Condition is one key/operator/value triple with variables already
// substituted. Message is the condition's optional message, reported by
// EvaluateBlock and EvaluateList.
type Condition struct {
	Key      any
	Operator string
	Value    any
	Message  string
}

// Block is Kyverno's AnyAllConditions. Any holds when at least one of its
// conditions holds; a nil Any imposes no constraint, while a non-nil empty
// Any (YAML "any: []") never holds, exactly as in Kyverno. All holds when
// every one of its conditions holds (an empty or nil All holds).
type Block struct {
	Any, All []Condition
}

// opKind identifies the handler family of an operator.
type opKind uint8

const (
	opEquals opKind = iota + 1
	opNotEquals
	opIn
	opNotIn
	opAnyIn
	opAllIn
	opAnyNotIn
	opAllNotIn
	opGreaterThan
	opGreaterThanOrEquals
	opLessThan
	opLessThanOrEquals
	opDurationGreaterThan
	opDurationGreaterThanOrEquals
	opDurationLessThan
	opDurationLessThanOrEquals
)

// operatorTable lists every operator name Kyverno accepts, in Kyverno's
// spelling. It is never modified.
var operatorTable = [...]struct {
	name string
	kind opKind
}{
	{"Equals", opEquals},
	{"Equal", opEquals},
	{"NotEquals", opNotEquals},
	{"NotEqual", opNotEquals},
	{"In", opIn},
	{"NotIn", opNotIn},
	{"AnyIn", opAnyIn},
	{"AllIn", opAllIn},
	{"AnyNotIn", opAnyNotIn},
	{"AllNotIn", opAllNotIn},
	{"GreaterThan", opGreaterThan},
	{"GreaterThanOrEquals", opGreaterThanOrEquals},
	{"LessThan", opLessThan},
	{"LessThanOrEquals", opLessThanOrEquals},
	{"DurationGreaterThan", opDurationGreaterThan},
	{"DurationGreaterThanOrEquals", opDurationGreaterThanOrEquals},
	{"DurationLessThan", opDurationLessThan},
	{"DurationLessThanOrEquals", opDurationLessThanOrEquals},
}

// lookupOperator resolves op case-insensitively. exact reports whether op
// is spelled exactly as Kyverno spells it.
func lookupOperator(op string) (kind opKind, exact bool, ok bool) {
	for i := range operatorTable {
		e := &operatorTable[i]
		if e.name == op {
			return e.kind, true, true
		}
	}
	for i := range operatorTable {
		e := &operatorTable[i]
		if strings.EqualFold(e.name, op) {
			return e.kind, false, true
		}
	}
	return 0, false, false
}

// ValidOperator reports whether op is an operator Kyverno accepts when it
// validates a policy: one of Equals, NotEquals, Equal, NotEqual, In, NotIn,
// AnyIn, AllIn, AnyNotIn, AllNotIn, GreaterThan, GreaterThanOrEquals,
// LessThan, LessThanOrEquals, DurationGreaterThan,
// DurationGreaterThanOrEquals, DurationLessThan, DurationLessThanOrEquals,
// spelled exactly so (the check is case-sensitive, like Kyverno's).
func ValidOperator(op string) bool {
	_, exact, ok := lookupOperator(op)
	return ok && exact
}

// Evaluate reports whether c holds. Operator names are matched
// case-insensitively, like Kyverno's handler lookup; the numeric and Duration*
// operators nevertheless never hold unless spelled in Kyverno's exact case,
// because Kyverno compares them case-sensitively. Keys or values of
// unsupported types make the condition false, never an error. An unknown
// operator is an error wrapping ErrUnknownOperator.
func Evaluate(c Condition) (bool, error) {
	kind, exact, ok := lookupOperator(c.Operator)
	if !ok {
		return false, fmt.Errorf("evaluate condition: %w %q", ErrUnknownOperator, c.Operator)
	}
	key, value := normalize(c.Key), normalize(c.Value)
	switch kind {
	case opEquals:
		return equals(key, value), nil
	case opNotEquals:
		return notEquals(key, value), nil
	case opIn:
		return evalIn(key, value, false), nil
	case opNotIn:
		return evalIn(key, value, true), nil
	case opAnyIn:
		return evalAny(key, value, false), nil
	case opAnyNotIn:
		return evalAny(key, value, true), nil
	case opAllIn:
		return evalAll(key, value, false), nil
	case opAllNotIn:
		return evalAll(key, value, true), nil
	case opGreaterThan, opGreaterThanOrEquals, opLessThan, opLessThanOrEquals:
		if !exact {
			return false, nil
		}
		return numericCompare(key, value, kind), nil
	default: // Duration* operators.
		if !exact {
			return false, nil
		}
		return durationCompare(key, value, kind), nil
	}
}

// EvaluateBlock evaluates b the way Kyverno evaluates an AnyAllConditions
// block: Any is evaluated first (stopping at the first condition that holds),
// then All (stopping at the first condition that fails); the block holds when
// both parts hold. The returned message joins, with "; ", the non-empty
// Messages of the conditions that failed when the block does not hold, and of
// the conditions that held when it does (a deny rule reports the latter). The
// first failing condition's message therefore comes first. An unknown
// operator aborts evaluation with an error wrapping ErrUnknownOperator.
func EvaluateBlock(b Block) (bool, string, error) {
	anyOK, allOK := true, true
	var failed, held []string
	if b.Any != nil {
		anyOK = false
		for i := range b.Any {
			c := &b.Any[i]
			ok, err := Evaluate(*c)
			if err != nil {
				return false, "", fmt.Errorf("any[%d]: %w", i, err)
			}
			if ok {
				anyOK = true
				held = appendMessage(held, c.Message)
				break
			}
			failed = appendMessage(failed, c.Message)
		}
	}
	for i := range b.All {
		c := &b.All[i]
		ok, err := Evaluate(*c)
		if err != nil {
			return false, "", fmt.Errorf("all[%d]: %w", i, err)
		}
		if !ok {
			allOK = false
			failed = appendMessage(failed, c.Message)
			break
		}
		held = appendMessage(held, c.Message)
	}
	if anyOK && allOK {
		return true, strings.Join(held, "; "), nil
	}
	return false, strings.Join(failed, "; "), nil
}

// EvaluateList evaluates the legacy form of preconditions and deny
// conditions, a plain list of conditions that must all hold. It stops at the
// first condition that fails and returns that condition's Message; when all
// hold it returns the non-empty Messages joined with ";" (Kyverno's separator
// for this form). An unknown operator is an error wrapping ErrUnknownOperator.
func EvaluateList(conds []Condition) (bool, string, error) {
	var held []string
	for i := range conds {
		c := &conds[i]
		ok, err := Evaluate(*c)
		if err != nil {
			return false, "", fmt.Errorf("condition[%d]: %w", i, err)
		}
		if !ok {
			return false, c.Message, nil
		}
		held = appendMessage(held, c.Message)
	}
	return true, strings.Join(held, ";"), nil
}

func appendMessage(msgs []string, m string) []string {
	if m == "" {
		return msgs
	}
	return append(msgs, m)
}
