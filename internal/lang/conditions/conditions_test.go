package conditions

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type evalCase struct {
	name  string
	key   any
	op    string
	value any
	want  bool
}

// list builds a JSON-like list; with no arguments it is empty, not nil, as
// JSON decoding produces.
func list(v ...any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func obj(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func runEvalCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Evaluate(Condition{Key: tc.key, Operator: tc.op, Value: tc.value})
			if err != nil {
				t.Fatalf("Evaluate(%#v %s %#v) error: %v", tc.key, tc.op, tc.value, err)
			}
			if got != tc.want {
				t.Errorf("Evaluate(%#v %s %#v) = %v, want %v", tc.key, tc.op, tc.value, got, tc.want)
			}
		})
	}
}

func TestEquals(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{"string equal", "string", "Equals", "string", true},
		{"string differ", "string", "Equals", "not string", false},
		{"number equal", 1.0, "Equals", 1.0, true},
		{"number differ", 1.0, "Equals", 2.0, false},
		{"int key float value", 1, "Equals", 1.0, true},
		{"int64 key int value", int64(1), "Equals", 1, true},
		{"json number key", json.Number("3"), "Equals", 3.0, true},
		{"float32 key", float32(0.1), "Equals", 0.1, true},
		{"bool equal", true, "Equals", true, true},
		{"bool false equal", false, "Equals", false, true},
		{"bool differ", true, "Equals", false, false},
		{"bool vs string", true, "Equals", "true", false},
		{"quantity plain vs Ki", "1024", "Equals", "1Ki", true},
		{"quantity Ki vs plain", "1Ki", "Equals", "1024", true},
		{"quantity Gi vs Mi", "1Gi", "Equals", "1024Mi", true},
		{"quantity differ", "10Gi", "Equals", "1024Mi", false},
		{"quantity key vs number value", "5", "Equals", 5.0, true},
		{"quantity key vs int value", "5", "Equals", 5, true},
		{"quantity key vs other number", "5", "Equals", 6.0, false},
		{"quantity key never wildcard", "100", "Equals", "1*", false},
		{"lenient quantity parser reads letters as zero", "m", "Equals", "Gi", true},
		{"duration equal", "1h", "Equals", "60m", true},
		{"duration differ", "1h", "Equals", "30m", false},
		{"duration vs seconds", "1h", "Equals", 3600.0, true},
		{"duration vs other seconds", "2h", "Equals", 3600.0, false},
		{"seconds key vs duration", 3600.0, "Equals", "1h", false},
		{"string zero not a duration", "0", "Equals", 0.0, true},
		{"map equal", obj("foo", "bar"), "Equals", obj("foo", "bar"), true},
		{"map differ", obj("foo", "bar"), "Equals", obj("bar", "foo"), false},
		{"map vs string", obj("foo", "bar"), "Equals", "foo", false},
		{"list equal", list("foo", "bar"), "Equals", list("foo", "bar"), true},
		{"list order matters", list("foo", "bar"), "Equals", list("bar", "foo"), false},
		{"list of maps equal", list(obj("foo", "bar")), "Equals", list(obj("foo", "bar")), true},
		{"list of maps differ", list(obj("foo", "bar")), "Equals", list(obj("bar", "foo")), false},
		{"nested numbers mixed types", list(1, obj("a", int64(2))), "Equals", list(1.0, obj("a", 2.0)), true},
		{"list vs string", list("a"), "Equals", "a", false},
		{"string vs number", "string", "Equals", 1.0, false},
		{"number vs numeric string differ", 1.0, "Equals", "2", false},
		{"number vs numeric string", 1.0, "Equals", "1", true},
		{"number vs float string", 1.0, "Equals", "1.0", true},
		{"number vs non numeric string", 1.0, "Equals", "one", false},
		{"number vs bool", 1.0, "Equals", true, false},
		{"semver literal", "1.5.2", "Equals", "1.5.2", true},
		{"semver wildcard", "1.5.2", "Equals", "1.5.*", true},
		{"semver differ", "1.5.0", "Equals", "1.5.5", false},
		{"wildcard star", "kube-api-access-abcde", "Equals", "kube-api-access-*", true},
		{"wildcard nonempty", "token", "Equals", "?*", true},
		{"wildcard nonempty vs empty", "", "Equals", "?*", false},
		{"wildcard any", "", "Equals", "*", true},
		{"empty equals empty", "", "Equals", "", true},
		{"empty vs text", "", "Equals", "CREATE", false},
		{"value is pattern not key", "a*", "Equals", "abc", false},
		{"nil key", nil, "Equals", nil, false},
		{"nil key vs string", nil, "Equals", "", false},
		{"typed nil list key", []any(nil), "Equals", []any{}, false},
		{"alias Equal", "temp", "Equal", "temp", true},
		{"lower case name", "temp", "equals", "temp", true},
		{"upper case name", "temp", "EQUALS", "temp", true},
		{"unsupported key type", struct{}{}, "Equals", struct{}{}, false},
	})
}

func TestNotEquals(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{"same string", "string", "NotEquals", "string", false},
		{"different string", "string", "NotEquals", "not string", true},
		{"same number", 1.0, "NotEquals", 1.0, false},
		{"int vs float same", 1, "NotEquals", 1.0, false},
		{"different number", 1.0, "NotEquals", 2.0, true},
		{"int vs fractional float", int64(5), "NotEquals", 5.5, true},
		{"bool differ", true, "NotEquals", false, true},
		{"bool same", false, "NotEquals", false, false},
		{"bool vs string", true, "NotEquals", "false", true},
		{"quantity same", "1024", "NotEquals", "1Ki", false},
		{"quantity differ", "1023", "NotEquals", "1Ki", true},
		{"quantity Gi vs Mi", "1Gi", "NotEquals", "1024Mi", false},
		{"quantity vs non quantity", "100Mi", "NotEquals", "not-a-quantity", true},
		{"quantity key vs equal number", "5", "NotEquals", 5.0, false},
		{"quantity key vs other number", "5", "NotEquals", 6.0, true},
		{"duration same", "1h", "NotEquals", "60m", false},
		{"duration differ", "1h", "NotEquals", "30m", true},
		{"duration vs seconds", "1h", "NotEquals", 3600.0, false},
		{"map same", obj("foo", "bar"), "NotEquals", obj("foo", "bar"), false},
		{"map differ", obj("foo", "bar"), "NotEquals", obj("foo", "baz"), true},
		{"map vs string", obj("foo", "bar"), "NotEquals", "x", true},
		{"list same", list("a", "b"), "NotEquals", list("a", "b"), false},
		{"list differ", list("a", "b"), "NotEquals", list("a", "c"), true},
		{"list vs map", list("a"), "NotEquals", obj("a", "b"), true},
		{"string vs number", "string", "NotEquals", 1.0, true},
		{"number vs string", 1.0, "NotEquals", "2", true},
		{"number vs bad string", 1.0, "NotEquals", "x", true},
		{"wildcard matches", "1.5.2", "NotEquals", "1.5.*", false},
		{"empty vs empty", "", "NotEquals", "", false},
		{"unresolved variable vs DELETE", "", "NotEquals", "DELETE", true},
		{"nil key is unsupported", nil, "NotEquals", "x", false},
		{"alias NotEqual", "a", "NotEqual", "b", true},
	})
}

func TestNumericOperators(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{"gt numbers", 10.0, "GreaterThan", 1.0, true},
		{"gt fractional", 1.5, "GreaterThan", 1.0, true},
		{"gt equal numbers", 1.0, "GreaterThan", 1.0, false},
		{"gt smaller", 1.0, "GreaterThan", 10.0, false},
		{"gt negative", -5.0, "GreaterThan", -10.0, true},
		{"gt int types", 10, "GreaterThan", int64(1), true},
		{"gt quantity plain vs Ki", "1025", "GreaterThan", "1Ki", true},
		{"gt quantity Ki vs plain", "1Ki", "GreaterThan", "1023", true},
		{"gt quantity Gi vs Mi", "1Gi", "GreaterThan", "512Mi", true},
		{"gt quantity equal", "1Gi", "GreaterThan", "1Gi", false},
		{"gt cpu", "200m", "GreaterThan", "100m", true},
		{"gt duration", "1h", "GreaterThan", "30m", true},
		{"gt duration equal", "1h", "GreaterThan", "1h", false},
		{"gt duration vs seconds", "2h", "GreaterThan", 3600.0, true},
		{"gt seconds vs duration", 3600.0, "GreaterThan", "30m", true},
		{"gt seconds vs equal duration", 3600.0, "GreaterThan", "1h", false},
		{"gt numeric string vs number", "10", "GreaterThan", 1.0, true},
		{"gt number vs numeric string", 100.0, "GreaterThan", "10", true},
		{"gt numeric strings", "100", "GreaterThan", "10", true},
		{"gt numeric strings not lexical", "9", "GreaterThan", "10", false},
		{"gt semver", "1.5.5", "GreaterThan", "1.5.0", true},
		{"gt semver minor", "1.10.0", "GreaterThan", "1.9.3", true},
		{"gt semver smaller", "1.5.0", "GreaterThan", "1.5.5", false},
		{"gt semver prerelease", "1.0.0", "GreaterThan", "1.0.0-alpha", true},
		{"gt semver vs number", "1.5.0", "GreaterThan", 1.0, false},
		{"gt quantity vs number not supported", "1Gi", "GreaterThan", 1.0, false},
		{"gt number vs quantity string not supported", 2000.0, "GreaterThan", "1Ki", false},
		{"gt text", "abc", "GreaterThan", "abd", false},
		{"gt bool", true, "GreaterThan", false, false},
		{"gt nil", nil, "GreaterThan", 1.0, false},
		{"gt list", list(1.0), "GreaterThan", 0.0, false},
		{"gt empty string", "", "GreaterThan", 0.0, false},
		{"gte equal", 1.0, "GreaterThanOrEquals", 1.0, true},
		{"gte quantity equal", "1024", "GreaterThanOrEquals", "1Ki", true},
		{"gte duration vs seconds", "1h", "GreaterThanOrEquals", 3600.0, true},
		{"gte semver", "1.5.5", "GreaterThanOrEquals", "1.5.5", true},
		{"gte smaller", 1.0, "GreaterThanOrEquals", 10.0, false},
		{"lt numbers", 1.0, "LessThan", 10.0, true},
		{"lt equal", 1.0, "LessThan", 1.0, false},
		{"lt quantity", "1Mi", "LessThan", "1Gi", true},
		{"lt duration vs seconds", "30m", "LessThan", 3600.0, true},
		{"lt numeric string vs number", "1", "LessThan", 10.0, true},
		{"lt semver", "1.5.0", "LessThan", "1.5.5", true},
		{"lte equal", 10.0, "LessThanOrEquals", 10.0, true},
		{"lte bigger", 10.0, "LessThanOrEquals", 1.0, false},
		{"lte quantity", "1Ki", "LessThanOrEquals", "1024", true},
		{"lte duration vs seconds", "2h", "LessThanOrEquals", 3600.0, false},
		{"huge exponent is not a quantity", "1E2147483647", "GreaterThan", "1", false},
		{"huge exponent compares as text", "10E0000000090000000000", "Equals", "10E0000000090000000000", true},
		{"large exponent still a quantity", "1e5", "GreaterThan", "99999", true},
		{"wrong case never holds", 10.0, "greaterthan", 1.0, false},
		{"wrong case never holds upper", 10.0, "GREATERTHAN", 1.0, false},
	})
}

func TestDurationOperators(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{"dgt strings", "1h", "DurationGreaterThan", "30m", true},
		{"dgt equal", "1h", "DurationGreaterThan", "60m", false},
		{"dgte equal", "1h", "DurationGreaterThanOrEquals", "60m", true},
		{"dlt strings", "30m", "DurationLessThan", "1h", true},
		{"dlte equal", "30m", "DurationLessThanOrEquals", "1800s", true},
		{"dgt seconds key", 7200.0, "DurationGreaterThan", "1h", true},
		{"dgt seconds value", "1h", "DurationGreaterThan", 3599.0, true},
		{"dgt both seconds", 10.0, "DurationGreaterThan", 5.0, true},
		{"fractional seconds truncate", 1.9, "DurationGreaterThan", 1.0, false},
		{"zero string is a duration here", "0", "DurationLessThan", "1s", true},
		{"bad key", "soon", "DurationGreaterThan", "1h", false},
		{"bad value", "1h", "DurationGreaterThan", "later", false},
		{"bool value", "1h", "DurationGreaterThan", true, false},
		{"list key", list("1h"), "DurationGreaterThan", "1m", false},
		{"wrong case never holds", "2h", "durationgreaterthan", "1h", false},
	})
}

func TestDeprecatedIn(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{"number in numbers", 1.0, "In", list(1.0, 2.0, 3.0), true},
		{"fraction in numbers", 1.5, "In", list(1.0, 1.5, 2.0), true},
		{"string in strings", "1", "In", list("1", "2", "3"), true},
		{"number not in", 5.0, "In", list(1.0, 2.0, 3.0), false},
		{"string not in", "5", "In", list("1", "2", "3"), false},
		{"wildcard in list value", "1.1.1.1", "In", list("1*"), true},
		{"wildcard in key", "kube-*", "In", list("kube-system"), true},
		{"list subset", list("1.1.1.1", "2.2.2.2"), "In", list("1.1.1.1", "2.2.2.2", "3.3.3.3"), true},
		{"list not subset", list("1.1.1.1", "4.4.4.4"), "In", list("1.1.1.1", "2.2.2.2"), false},
		{"list no wildcards", list("kube-system"), "In", list("kube-*"), false},
		{"list vs non string list", list("1"), "In", list(1.0), false},
		{"string value wildcard", "kube-system", "In", "kube-*", true},
		{"string value json array", "b", "In", `["a","b"]`, true},
		{"string value plain text is invalid", "b", "In", "a", false},
		{"list key json array", list("a", "b"), "In", `["a","b","c"]`, true},
		{"single list key equal to string", list("a"), "In", "a", true},
		{"bool key unsupported", true, "In", list(true), false},
		{"map key unsupported", obj("a", 1.0), "In", list("a"), false},
		{"number value unsupported", "1", "In", 1.0, false},
		{"notin number", 5.0, "NotIn", list(1.0, 2.0, 3.0), true},
		{"notin number present", 1.0, "NotIn", list(1.0, 2.0, 3.0), false},
		{"notin string", "5", "NotIn", list("1", "2", "3"), true},
		{"notin list partly outside", list("1.1.1.1", "4.4.4.4"), "NotIn", list("1.1.1.1", "2.2.2.2", "3.3.3.3"), true},
		{"notin list inside", list("1.1.1.1", "2.2.2.2"), "NotIn", list("1.1.1.1", "2.2.2.2", "3.3.3.3"), false},
		{"notin plain string value invalid", "x", "NotIn", "y", false},
		{"notin single list key equal to string quirk", list("a"), "NotIn", "a", true},
	})
}

func TestAnyIn(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{"string equal string", "kyverno", "AnyIn", "kyverno", true},
		{"string in wildcard list", "kube-system", "AnyIn", list("default", "kube-*"), true},
		{"string not equal string", "kyverno", "AnyIn", "default", false},
		{"number vs numeric string", 64.0, "AnyIn", "64", true},
		{"int vs numbers", 1, "AnyIn", list(1, 2, 3), true},
		{"float vs string", 3.14, "AnyIn", "3.14", true},
		{"float in floats", 2.2, "AnyIn", list(1.1, 2.2, 3.3), true},
		{"bool vs string", true, "AnyIn", "true", true},
		{"bool in bools", true, "AnyIn", list(true), true},
		{"large number formats with exponent", 1e6, "AnyIn", list("1000000"), false},
		{"large number formats with exponent match", 1e6, "AnyIn", list("1e+06"), true},
		{"list all in wildcard string", list("kube-system", "kube-public"), "AnyIn", "kube-*", true},
		{"list partly in", list("kube-system", "default"), "AnyIn", "kube-system", true},
		{"list none in", list("default", "kyverno"), "AnyIn", "kube-*", false},
		{"lists some in", list("default", "kyverno"), "AnyIn", list("kube-*", "ky*"), true},
		{"lists none in", list("default", "kyverno"), "AnyIn", list("kube-*", "kube-system"), false},
		{"list key pattern", list("1*"), "AnyIn", list("1.1.1.1", "2.2.2.2"), true},
		{"list key pattern miss", list("5*"), "AnyIn", list("1.1.1.1", "2.2.2.2"), false},
		{"number list", list(1, 5), "AnyIn", list(1, 2, 3, 4), true},
		{"number list miss", list(5), "AnyIn", list(1, 2, 3, 4), false},
		{"list vs scalar number value", list(1.0, 2.0), "AnyIn", 2.0, true},
		{"list vs scalar bool value", list(true, false), "AnyIn", false, true},
		{"bool list from regex_match", list(false, true), "AnyIn", list(true), true},
		{"empty key list", list(), "AnyIn", list("a"), false},
		{"empty string key", "", "AnyIn", list("default", "kyverno"), false},
		{"empty string key in list with empty", "", "AnyIn", list("", "apps"), true},
		{"unresolved key vs star", "", "AnyIn", list("*"), true},
		{"map key unsupported", obj("foo", "bar"), "AnyIn", "test", false},
		{"nil key unsupported", nil, "AnyIn", list("<nil>"), false},
		{"scalar number value unsupported for scalar key", 5.0, "AnyIn", 5.0, false},
		{"range in", "5", "AnyIn", "1-10", true},
		{"range number key", 5.0, "AnyIn", "1-10", true},
		{"range out", "0", "AnyIn", "1-10", false},
		{"range list any in", list("0", "5"), "AnyIn", "1-10", true},
		{"range list none in", list(1.0, 5.0), "AnyIn", "7-10", false},
		{"range list decimal bounds", list(1.002, 1.222), "AnyIn", "1.001-10", true},
		{"range list single out", list("5"), "AnyIn", "1-3", false},
		{"range with quantities", "1Gi", "AnyIn", "512Mi-2Gi", true},
		{"range with durations", "90m", "AnyIn", "1h-2h", true},
		{"negated range is literal", "7", "AnyIn", "1!-5", false},
		{"json array string", "apple", "AnyIn", `["apple", "banana"]`, true},
		{"json array string miss", "cherry", "AnyIn", `["apple", "banana"]`, false},
		{"json array string exact only", "apple", "AnyIn", `["app*"]`, false},
		{"list vs json array string", list("apple", "cherry"), "AnyIn", `["apple", "banana"]`, true},
		{"list vs json array string wildcard", list("apple"), "AnyIn", `["app*"]`, true},
		{"json number string invalid", "5", "AnyIn", "6", false},
		{"json non string array invalid", "1", "AnyIn", `[1, 2]`, false},
		{"json null string", "x", "AnyIn", "null", false},
	})
}

func TestAnyNotIn(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{"string equal", "kyverno", "AnyNotIn", "kyverno", false},
		{"string in wildcard list", "kube-system", "AnyNotIn", list("default", "kube-*"), false},
		{"string not in", "kyverno", "AnyNotIn", "default", true},
		{"int vs numeric string", 64, "AnyNotIn", "64", false},
		{"int in ints", 1, "AnyNotIn", list(1, 2, 3), false},
		{"int not in", 64, "AnyNotIn", "default", true},
		{"float vs string", 3.14, "AnyNotIn", "3.14", false},
		{"float in floats", 2.2, "AnyNotIn", list(1.1, 2.2, 3.3), false},
		{"bool vs bool scalar invalid", true, "AnyNotIn", true, false},
		{"list all in", list("kube-system", "kube-public"), "AnyNotIn", "kube-*", false},
		{"list partly in", list("kube-system", "default"), "AnyNotIn", "kube-system", true},
		{"list none in", list("default", "kyverno"), "AnyNotIn", "kube-*", true},
		{"ints partly in number", list(1, 2, 3), "AnyNotIn", 2, true},
		{"ints none in number", list(1, 2, 3), "AnyNotIn", 4, true},
		{"single int equal number", list(2.0), "AnyNotIn", 2.0, false},
		{"bools partly in", list(true, false), "AnyNotIn", true, true},
		{"bool not in", list(true), "AnyNotIn", false, true},
		{"lists none in", list("default", "kyverno"), "AnyNotIn", list("kube-*", "kube-system"), true},
		{"lists partly in", list("default", "kyverno"), "AnyNotIn", list("kube-*", "ky*"), true},
		{"empty key list", list(), "AnyNotIn", list("default"), false},
		{"empty string key", "", "AnyNotIn", list("default", "kyverno"), true},
		{"single list key equal to string", list("a"), "AnyNotIn", "a", false},
		{"wildcard key list", list("2.2*"), "AnyNotIn", list("2.2.2.2"), false},
		{"wildcard keys", list("1*", "3*", "5*"), "AnyNotIn", list("1.1.1.1", "2.2.2.2", "3.3.3.3"), true},
		{"range outside", "5", "AnyNotIn", "1-3", true},
		{"range inside", "2", "AnyNotIn", "1-3", false},
		{"range list one outside", list(1.0, 5.0, 11.0), "AnyNotIn", "0-10", true},
		{"range list all inside", list(1.0, 5.0, 7.0), "AnyNotIn", "0-10", false},
		{"host port range", list(5001.0, 5002.0), "AnyNotIn", "5000-6000", false},
		{"host port range outside", list(80.0, 5002.0), "AnyNotIn", "5000-6000", true},
		{"drop list uppercase", "ALL", "AnyNotIn", list("ALL"), false},
		{"drop list missing", "ALL", "AnyNotIn", list("NET_RAW"), true},
		{"nil drop list key", "ALL", "AnyNotIn", nil, false},
		{"key wildcard vs env list", "NVIDIA_VISIBLE_DEVICES=*?", "AnyNotIn", list("PATH=/bin", "NVIDIA_VISIBLE_DEVICES=all"), false},
		{"key wildcard vs env list missing", "NVIDIA_VISIBLE_DEVICES=*?", "AnyNotIn", list("PATH=/bin"), true},
		{"json array string", "c", "AnyNotIn", `["a","b"]`, true},
		{"json invalid array", "c", "AnyNotIn", `{"a":"b"}`, false},
	})
}

func TestAllIn(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{"list subset", list("1.1.1.1", "2.2.2.2"), "AllIn", list("1.1.1.1", "2.2.2.2", "3.3.3.3"), true},
		{"list partly", list("1.1.1.1", "5.5.5.5"), "AllIn", list("1.1.1.1", "2.2.2.2", "3.3.3.3"), false},
		{"list none", list("4.4.4.4", "5.5.5.5"), "AllIn", list("1.1.1.1"), false},
		{"numbers subset", list(1, 2), "AllIn", list(1, 2, 3, 4), true},
		{"numbers partly", list(1, 5), "AllIn", list(1, 2, 3, 4), false},
		{"key pattern", list("1*"), "AllIn", list("1.1.1.1", "2.2.2.2"), true},
		{"value pattern", list("2.1.1.1", "2.2.2.2"), "AllIn", list("2*"), true},
		{"value pattern partly", list("1.1.1.1", "2.2.2.2"), "AllIn", list("4*"), false},
		{"list vs string", list("1.1.1.1", "5.5.5.5"), "AllIn", "5.5.5.5", false},
		{"list vs wildcard string", list("kube-system", "kube-public"), "AllIn", "kube-*", true},
		{"single list key equals string", list("a"), "AllIn", "a", true},
		{"empty key list", list(), "AllIn", list("a"), true},
		{"scalar in list", "kube-system", "AllIn", list("default", "kube-*"), true},
		{"scalar plain string", "kyverno", "AllIn", "default", false},
		{"scalar number vs string", 64.0, "AllIn", "64", true},
		{"bool key unsupported", true, "AllIn", list(true), false},
		{"list vs scalar number unsupported", list(1.0), "AllIn", 1.0, false},
		{"range scalar", 5.0, "AllIn", "1-10", true},
		{"range list", list(3.0, 2.0), "AllIn", "1-10", true},
		{"range list partly", list(3.0, 2.0), "AllIn", "3-10", false},
		{"json array string", list("a", "b"), "AllIn", `["a","b","c"]`, true},
		{"json array string partly", list("a", "d"), "AllIn", `["a","b","c"]`, false},
	})
}

func TestAllNotIn(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{"string equal", "kyverno", "AllNotIn", "kyverno", false},
		{"string in wildcard list", "kube-system", "AllNotIn", list("default", "kube-*"), false},
		{"string not in", "kyverno", "AllNotIn", "default", true},
		{"int vs numeric string", 64, "AllNotIn", "64", false},
		{"int not in", 64, "AllNotIn", "default", true},
		{"number in numbers", 1.0, "AllNotIn", list(1.0, 2.0, 3.0), false},
		{"number not in numbers", 5.0, "AllNotIn", list(1.0, 2.0, 3.0), true},
		{"fraction not in", 5.5, "AllNotIn", list(1.0, 1.5, 2.0), true},
		{"list all in wildcard", list("kube-system", "kube-public"), "AllNotIn", "kube-*", false},
		{"list partly in", list("kube-system", "default"), "AllNotIn", "kube-system", false},
		{"list none in", list("default", "kyverno"), "AllNotIn", "kube-*", true},
		{"lists none in", list("default", "kyverno"), "AllNotIn", list("kube-*", "kube-system"), true},
		{"lists partly in", list("default", "kyverno"), "AllNotIn", list("kube-*", "ky*"), false},
		{"duplicates", list("1.1.1.1", "4.4.4.4", "1.1.1.1"), "AllNotIn", list("1.1.1.1", "4.4.4.4"), false},
		{"key patterns none", list("7*", "6*", "5*"), "AllNotIn", list("1.1.1.1", "2.2.2.2"), true},
		{"key patterns some", list("1*", "2*"), "AllNotIn", list("1.1.1.1", "2.2.2.2"), false},
		{"value pattern none", list("1.1.1.1", "3.3.3.3"), "AllNotIn", list("2*"), true},
		{"list vs other string", list("1.1.1.1", "4.4.4.4"), "AllNotIn", "2.2.2.2", true},
		{"single list key equals string", list("a"), "AllNotIn", "a", false},
		{"empty key list", list(), "AllNotIn", list("a"), true},
		{"probe name not in keys", "livenessProbe", "AllNotIn", list("image", "name"), true},
		{"probe name in keys", "livenessProbe", "AllNotIn", list("livenessProbe", "name"), false},
		{"range scalar out", 5.5, "AllNotIn", "6-10", true},
		{"range scalar in", "5", "AllNotIn", "1-6", false},
		{"range list out", list(3.0, 2.0), "AllNotIn", "5-10", true},
		{"range list partly in", list(2.0, 6.0), "AllNotIn", "5-10", false},
	})
}

func TestUnknownOperator(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		op   string
	}{
		{"empty", ""},
		{"exists is a label selector operator", "Exists"},
		{"does not exist", "DoesNotExist"},
		{"typo", "Equalss"},
		{"symbol", "=="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Evaluate(Condition{Key: "a", Operator: tc.op, Value: "a"})
			if got {
				t.Errorf("Evaluate with operator %q = true, want false", tc.op)
			}
			if !errors.Is(err, ErrUnknownOperator) {
				t.Fatalf("Evaluate with operator %q error = %v, want ErrUnknownOperator", tc.op, err)
			}
			if !strings.Contains(err.Error(), "unknown condition operator") {
				t.Errorf("error %q lacks the operator message", err)
			}
		})
	}
}

func TestValidOperator(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		op   string
		want bool
	}{
		{"Equals", "Equals", true},
		{"Equal alias", "Equal", true},
		{"NotEquals", "NotEquals", true},
		{"NotEqual alias", "NotEqual", true},
		{"In", "In", true},
		{"NotIn", "NotIn", true},
		{"AnyIn", "AnyIn", true},
		{"AllIn", "AllIn", true},
		{"AnyNotIn", "AnyNotIn", true},
		{"AllNotIn", "AllNotIn", true},
		{"GreaterThan", "GreaterThan", true},
		{"GreaterThanOrEquals", "GreaterThanOrEquals", true},
		{"LessThan", "LessThan", true},
		{"LessThanOrEquals", "LessThanOrEquals", true},
		{"DurationGreaterThan", "DurationGreaterThan", true},
		{"DurationGreaterThanOrEquals", "DurationGreaterThanOrEquals", true},
		{"DurationLessThan", "DurationLessThan", true},
		{"DurationLessThanOrEquals", "DurationLessThanOrEquals", true},
		{"lower case", "equals", false},
		{"Exists", "Exists", false},
		{"DoesNotExist", "DoesNotExist", false},
		{"GreaterThanOrEqual", "GreaterThanOrEqual", false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidOperator(tc.op); got != tc.want {
				t.Errorf("ValidOperator(%q) = %v, want %v", tc.op, got, tc.want)
			}
		})
	}
}

func TestInputsNotMutated(t *testing.T) {
	t.Parallel()
	key := list(1, "a", obj("x", int64(2)))
	value := list(1.0, "a", obj("x", 2.0))
	for i := range operatorTable {
		if _, err := Evaluate(Condition{Key: key, Operator: operatorTable[i].name, Value: value}); err != nil {
			t.Fatalf("%s: %v", operatorTable[i].name, err)
		}
	}
	if _, ok := key[0].(int); !ok {
		t.Errorf("key element 0 changed type to %T", key[0])
	}
	if _, ok := key[2].(map[string]any)["x"].(int64); !ok {
		t.Errorf("nested key value changed type")
	}
}
