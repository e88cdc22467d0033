package jmespath

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// evalCase is one expression evaluated against a JSON document. want is the
// JSON encoding of the expected result; err, when set, is a fragment the
// error message must contain (and want is ignored).
type evalCase struct {
	name string
	expr string
	data string
	want string
	err  string
}

var fixedNow = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func fromJSON(t testing.TB, s string) any {
	t.Helper()
	if s == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return v
}

func runCases(t *testing.T, cases []evalCase) {
	t.Helper()
	in := New(WithClock(func() time.Time { return fixedNow }))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := tc.data
			if data == "" {
				// Multi-select lists/hashes on a null current node yield
				// null, so default to an empty object like Kyverno's tests.
				data = "{}"
			}
			got, err := in.Search(tc.expr, fromJSON(t, data))
			if tc.err != "" {
				if err == nil {
					t.Fatalf("%s: expected error containing %q, got result %#v", tc.expr, tc.err, got)
				}
				if !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%s: error %q does not contain %q", tc.expr, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: unexpected error: %v", tc.expr, err)
			}
			want := fromJSON(t, tc.want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\n got  %#v\n want %#v", tc.expr, got, want)
			}
		})
	}
}

func TestStringFunctions(t *testing.T) {
	t.Parallel()
	runCases(t, []evalCase{
		{name: "compare less", expr: "compare('a', 'b')", want: "-1"},
		{name: "compare greater", expr: "compare('b', 'a')", want: "1"},
		{name: "compare equal", expr: "compare('a', 'a')", want: "0"},
		{name: "compare bad type", expr: "compare(`1`, 'a')", err: "JMESPath function 'compare': argument #1 is not of type string"},
		{name: "equal_fold true", expr: "equal_fold('Hello', 'hELLo')", want: "true"},
		{name: "equal_fold false", expr: "equal_fold('Hello', 'world')", want: "false"},
		{name: "equal_fold arity", expr: "equal_fold('Hello')", err: "incorrect number of args"},
		{name: "replace all", expr: "replace('Lorem ipsum ipsum', 'ipsum', 'x', `-1`)", want: `"Lorem x x"`},
		{name: "replace n", expr: "replace('aaaa', 'a', 'b', `2`)", want: `"bbaa"`},
		{name: "replace bad count", expr: "replace('a', 'a', 'b', '1')", err: "argument #4 is not of type number"},
		{name: "replace_all", expr: "replace_all('Lorem ipsum ipsum', 'ipsum', 'x')", want: `"Lorem x x"`},
		{name: "replace_all null", expr: "replace_all(missing, 'a', 'b')", data: `{}`, err: "argument #1 is not of type string"},
		{name: "to_upper", expr: "to_upper('abc')", want: `"ABC"`},
		{name: "to_upper number", expr: "to_upper(`1`)", err: "argument #1 is not of type string"},
		{name: "to_lower", expr: "to_lower(name)", data: `{"name":"ABC"}`, want: `"abc"`},
		{name: "to_lower object", expr: "to_lower(@)", data: `{}`, err: "JMESPath function 'to_lower'"},
		{name: "trim", expr: "trim('¡¡¡Hello, Gophers!!!', '!¡')", want: `"Hello, Gophers"`},
		{name: "trim bad", expr: "trim('x', `1`)", err: "argument #2 is not of type string"},
		{name: "trim_prefix", expr: "trim_prefix('prefix-name', 'prefix-')", want: `"name"`},
		{name: "trim_prefix absent", expr: "trim_prefix('name', 'x')", want: `"name"`},
		{name: "split", expr: "split('a,b,c', ',')", want: `["a","b","c"]`},
		{name: "split null", expr: "split(missing, ',')", data: `{}`, err: "argument #1 is not of type string"},
		{name: "regex_replace_all groups", expr: "regex_replace_all('([Hh]e|G)l', 'Hello, Gophers', '${1}L')", want: `"HeLlo, Gophers"`},
		{name: "regex_replace_all number src", expr: "regex_replace_all('[0-9]', `123`, 'x')", want: `"xxx"`},
		{name: "regex_replace_all number repl", expr: "regex_replace_all('a', 'banana', `1`)", want: `"b1n1n1"`},
		{name: "regex_replace_all bad regex", expr: "regex_replace_all('(', 'x', 'y')", err: "JMESPath function 'regex_replace_all': error parsing regexp"},
		{name: "regex_replace_all object", expr: "regex_replace_all('a', `{}`, 'y')", err: "argument #2 is not of type string|number"},
		{name: "regex_replace_all_literal", expr: "regex_replace_all_literal('[0-9]', 'a1b2', '$1')", want: `"a$1b$1"`},
		{name: "regex_replace_all_literal bad", expr: "regex_replace_all_literal('[', 'a', 'b')", err: "error parsing regexp"},
		{name: "regex_match", expr: "regex_match('^v[0-9]', 'v1.2')", want: "true"},
		{name: "regex_match no", expr: "regex_match('^v[0-9]', 'x1.2')", want: "false"},
		{name: "regex_match number", expr: "regex_match('^[0-9]+$', `123`)", want: "true"},
		{name: "regex_match float32 quirk", expr: "regex_match('^123456790$', `123456789`)", want: "true"},
		{name: "regex_match word boundary", expr: "regex_match('\\bps\\b', 'sh -c ps aux')", want: "true"},
		{name: "regex_match bad regex", expr: "regex_match('(', 'x')", err: "error parsing regexp"},
		{name: "regex_match null", expr: "regex_match('a', missing)", data: `{}`, err: "argument #2 is not of type string|number"},
		{name: "pattern_match star", expr: "pattern_match('nginx*', 'nginx:1.2')", want: "true"},
		{name: "pattern_match question", expr: "pattern_match('a?c', 'abd')", want: "false"},
		{name: "pattern_match number", expr: "pattern_match('1*', `123`)", want: "true"},
		{name: "pattern_match bad", expr: "pattern_match(`1`, 'a')", err: "argument #1 is not of type string"},
		{name: "label_match subset", expr: "label_match(`{\"app\":\"x\"}`, `{\"app\":\"x\",\"tier\":\"y\"}`)", want: "true"},
		{name: "label_match differ", expr: "label_match(`{\"app\":\"x\"}`, `{\"app\":\"z\"}`)", want: "false"},
		{name: "label_match missing key", expr: "label_match(`{\"app\":\"x\"}`, `{}`)", want: "false"},
		{name: "label_match nested values", expr: "label_match(`{\"a\":{\"b\":1}}`, `{\"a\":{\"b\":1}}`)", want: "true"},
		{name: "label_match bad", expr: "label_match('x', `{}`)", err: "argument #1 is not of type object"},
		{name: "to_boolean true", expr: "to_boolean('TruE')", want: "true"},
		{name: "to_boolean false", expr: "to_boolean('faLSE')", want: "false"},
		{name: "to_boolean bad", expr: "to_boolean('yes')", err: "lowercase argument must be 'true' or 'false' (provided: 'yes')"},
		{name: "base64_decode", expr: "base64_decode('SGVsbG8=')", want: `"Hello"`},
		{name: "base64_decode bad", expr: "base64_decode('!!')", err: "JMESPath function 'base64_decode': illegal base64"},
		{name: "base64_encode", expr: "base64_encode('Hello')", want: `"SGVsbG8="`},
		{name: "base64_encode bad", expr: "base64_encode(`1`)", err: "argument #1 is not of type string"},
		{name: "path_canonicalize", expr: "path_canonicalize('///var//run/../log')", want: `"/var/log"`},
		{name: "path_canonicalize empty", expr: "path_canonicalize('')", want: `""`},
		{name: "path_canonicalize bad", expr: "path_canonicalize(`[]`)", err: "argument #1 is not of type string"},
		{name: "truncate", expr: "truncate('Lorem ipsum', `5`)", want: `"Lorem"`},
		{name: "truncate longer", expr: "truncate('abc', `10`)", want: `"abc"`},
		{name: "truncate negative", expr: "truncate('abc', `-1`)", want: `""`},
		{name: "truncate runes", expr: "truncate('héllo', `2`)", want: `"hé"`},
		{name: "truncate bad", expr: "truncate('abc', '1')", err: "argument #2 is not of type number"},
		{name: "semver_compare in range", expr: "semver_compare('1.2.3', '>1.0.0')", want: "true"},
		{name: "semver_compare out of range", expr: "semver_compare('1.2.3', '<1.0.0')", want: "false"},
		{name: "semver_compare invalid version is zero", expr: "semver_compare('bad', '0.0.0')", want: "true"},
		{name: "semver_compare bad range", expr: "semver_compare('1.0.0', 'not a range')", err: "JMESPath function 'semver_compare'"},
		{name: "sha256", expr: "sha256('hello')", want: `"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"`},
		{name: "sha256 bad", expr: "sha256(`1`)", err: "argument #1 is not of type string"},
		{name: "md5", expr: "md5('hello')", want: `"5d41402abc4b2a76b9719d911017c592"`},
		{name: "is_external_url public", expr: "is_external_url('https://example.com/x')", want: "true"},
		{name: "is_external_url localhost", expr: "is_external_url('http://localhost:8080')", want: "false"},
		{name: "is_external_url private ip", expr: "is_external_url('http://10.0.0.1/')", want: "false"},
		{name: "is_external_url svc", expr: "is_external_url('http://api.ns.svc:80')", want: "false"},
		{name: "is_external_url scheme", expr: "is_external_url('ftp://example.com')", want: "false"},
		{name: "is_external_url bad", expr: "is_external_url(`1`)", err: "argument #1 is not of type string"},
	})
}

func TestArithmeticFunctions(t *testing.T) {
	t.Parallel()
	runCases(t, []evalCase{
		{name: "add scalars", expr: "add(`12`, `13`)", want: "25"},
		{name: "add quantities", expr: "add('12Ki', '13Ki')", want: `"25Ki"`},
		{name: "add quantity and plain number string", expr: "add('12Ki', '13')", want: `"12301"`},
		{name: "add Gi and Mi", expr: "add('1Gi', '512Mi')", want: `"1536Mi"`},
		{name: "add durations", expr: "add('12s', '13s')", want: `"25s"`},
		{name: "add composite durations", expr: "add('1h', '30m0s')", want: `"1h30m0s"`},
		{name: "add 30m is a quantity", expr: "add('1h', '30m')", err: "JMESPath function 'add': Types mismatch"},
		{name: "add scalar and quantity", expr: "add(`12`, '13Ki')", err: "Types mismatch"},
		{name: "add scalar and numeric string", expr: "add(`12`, '13')", err: "Types mismatch"},
		{name: "add invalid operand", expr: "add('abc', `1`)", err: "JMESPath function 'add': invalid operands"},
		{name: "add null operand", expr: "add(missing, `1`)", data: `{}`, err: "invalid operands"},
		{name: "sum scalars", expr: "sum([`12`, `13`, `1`, `4`])", want: "30"},
		{name: "sum quantities", expr: "sum(['12Ki', '13Ki', '1Ki', '4Ki'])", want: `"30Ki"`},
		{name: "sum durations", expr: "sum(['12s', '13s'])", want: `"25s"`},
		{name: "sum single", expr: "sum(['12Ki'])", want: `"12Ki"`},
		{name: "sum empty", expr: "sum(`[]`)", err: "JMESPath function 'sum': at least one element in the array is required"},
		{name: "sum mixed", expr: "sum(['12s', `13`])", err: "JMESPath function 'sum': Types mismatch"},
		{name: "sum not array", expr: "sum('1')", err: "argument #1 is not of type array"},
		{name: "subtract scalars", expr: "subtract(`12`, `13`)", want: "-1"},
		{name: "subtract quantities", expr: "subtract('12Ki', '13Ki')", want: `"-1Ki"`},
		{name: "subtract quantity plain", expr: "subtract('12Ki', '13')", want: `"12275"`},
		{name: "subtract durations", expr: "subtract('12s', '13s')", want: `"-1s"`},
		{name: "subtract mismatch", expr: "subtract('12s', '13Ki')", err: "JMESPath function 'subtract': Types mismatch"},
		{name: "multiply quantity scalar", expr: "multiply('12Ki', `2`)", want: `"24Ki"`},
		{name: "multiply scalar quantity", expr: "multiply(`2.5`, '12Ki')", want: `"30Ki"`},
		{name: "multiply scalar plain quantity", expr: "multiply(`2.5`, '12')", want: `"30"`},
		{name: "multiply scalar duration", expr: "multiply(`2.5`, '40s')", want: `"1m40s"`},
		{name: "multiply duration scalar", expr: "multiply('12s', `2`)", want: `"24s"`},
		{name: "multiply scalars", expr: "multiply(`2.5`, `2.5`)", want: "6.25"},
		{name: "multiply quantities", expr: "multiply('12Ki', '12Ki')", err: "JMESPath function 'multiply': Types mismatch"},
		{name: "multiply durations", expr: "multiply('12s', '12s')", err: "Types mismatch"},
		{name: "divide quantities", expr: "divide('512M', '256M')", want: "2"},
		{name: "divide quantity plain", expr: "divide('12Ki', '200')", want: "61.44"},
		{name: "divide quantity scalar", expr: "divide('12Ki', `3`)", want: `"4Ki"`},
		{name: "divide durations", expr: "divide('12s', '5s')", want: "2.4"},
		{name: "divide duration scalar", expr: "divide('12s', `3`)", want: `"4s"`},
		{name: "divide scalars", expr: "divide(`14`, `4`)", want: "3.5"},
		{name: "divide by zero", expr: "divide(`14`, `0`)", err: "JMESPath function 'divide': Zero divisor passed"},
		{name: "divide quantity by zero quantity", expr: "divide('4Ki', '0Ki')", err: "Zero divisor passed"},
		{name: "divide quantity by zero", expr: "divide('4Ki', `0`)", err: "Zero divisor passed"},
		{name: "divide duration by zero", expr: "divide('4s', '0s')", err: "Zero divisor passed"},
		{name: "divide scalar by quantity", expr: "divide(`14`, '5Ki')", err: "JMESPath function 'divide': Types mismatch"},
		{name: "modulo scalars", expr: "modulo(`13`, `5`)", want: "3"},
		{name: "modulo negative", expr: "modulo(`-13`, `5`)", want: "-3"},
		{name: "modulo quantities", expr: "modulo('12Ki', '5Ki')", want: `"2Ki"`},
		{name: "modulo durations", expr: "modulo('13s', '2s')", want: `"1s"`},
		{name: "modulo non integer", expr: "modulo(`14`, `1.5`)", err: "JMESPath function 'modulo': Non-integer argument(s) passed for modulo"},
		{name: "modulo non integer quantity", expr: "modulo('4.5', '1')", err: "Non-integer argument(s) passed for modulo"},
		{name: "modulo zero", expr: "modulo(`14`, `0`)", err: "JMESPath function 'modulo': Zero divisor passed"},
		{name: "modulo zero duration", expr: "modulo('4s', '0s')", err: "Zero divisor passed"},
		{name: "modulo mismatch", expr: "modulo('13s', `2`)", err: "Types mismatch"},
		{name: "round", expr: "round(`3.14159`, `2`)", want: "3.14"},
		{name: "round half", expr: "round(`2.5`, `0`)", want: "3"},
		{name: "round non integer digits", expr: "round(`1`, `1.5`)", err: "JMESPath function 'round': Non-integer argument(s) passed for round off"},
		{name: "round negative digits", expr: "round(`1`, `-1`)", err: "JMESPath function 'round': argument #2 is out of bounds"},
		{name: "round bad", expr: "round('1', `1`)", err: "argument #1 is not of type number"},
		{name: "abs builtin", expr: "abs(`-3`)", want: "3"},
		{name: "abs builtin bad", expr: "abs('x')", err: "Invalid type for"},
	})
}

func TestTimeFunctions(t *testing.T) {
	t.Parallel()
	runCases(t, []evalCase{
		{name: "time_now uses clock", expr: "time_now()", want: `"2024-01-02T03:04:05Z"`},
		{name: "time_now_utc uses clock", expr: "time_now_utc()", want: `"2024-01-02T03:04:05Z"`},
		{name: "time_since to now", expr: "time_since('', '2024-01-01T03:04:05Z', '')", want: `"24h0m0s"`},
		{name: "time_since explicit end", expr: "time_since('', '2021-01-02T15:04:05Z', '2021-01-02T16:04:05Z')", want: `"1h0m0s"`},
		{name: "time_since layout", expr: "time_since('2006-01-02', '2021-01-01', '2021-01-02')", want: `"24h0m0s"`},
		{name: "time_since bad start", expr: "time_since('', 'bad', '')", err: "JMESPath function 'time_since': parsing time"},
		{name: "time_since bad end", expr: "time_since('', '2021-01-02T15:04:05Z', 'bad')", err: "parsing time"},
		{name: "time_since arity", expr: "time_since('', '2021-01-02T15:04:05Z')", err: "incorrect number of args"},
		{name: "time_add", expr: "time_add('2023-01-12T12:37:56-05:00', '3h')", want: `"2023-01-12T15:37:56-05:00"`},
		{name: "time_add bad duration", expr: "time_add('2023-01-12T12:37:56-05:00', 'x')", err: "JMESPath function 'time_add': time: invalid duration"},
		{name: "time_add bad time", expr: "time_add('bad', '1h')", err: "JMESPath function 'time_add': parsing time"},
		{name: "time_after", expr: "time_after('2023-01-12T14:07:55-05:00', '2023-01-12T19:05:59Z')", want: "true"},
		{name: "time_after bad", expr: "time_after('x', '2023-01-12T19:05:59Z')", err: "JMESPath function 'time_after'"},
		{name: "time_before", expr: "time_before('2023-01-12T14:07:55-05:00', '2023-01-12T19:05:59Z')", want: "false"},
		{name: "time_before bad", expr: "time_before('2023-01-12T19:05:59Z', `1`)", err: "argument #2 is not of type string"},
		{name: "time_between", expr: "time_between('2023-01-12T19:05:59Z', '2023-01-01T00:00:00Z', '2023-01-31T00:00:00Z')", want: "true"},
		{name: "time_between exclusive", expr: "time_between('2023-01-01T00:00:00Z', '2023-01-01T00:00:00Z', '2023-01-31T00:00:00Z')", want: "false"},
		{name: "time_between bad end", expr: "time_between('2023-01-12T19:05:59Z', '2023-01-01T00:00:00Z', 'x')", err: "JMESPath function 'time_between'"},
		{name: "time_diff", expr: "time_diff('2023-01-10T00:00:00Z', '2023-01-11T00:00:00Z')", want: `"24h0m0s"`},
		{name: "time_diff bad", expr: "time_diff('2023-01-10', '2023-01-11T00:00:00Z')", err: "JMESPath function 'time_diff': parsing time"},
		{name: "time_parse layout", expr: "time_parse('Mon Jan 02 2006 15:04:05 -0700', 'Fri Jun 22 2022 17:45:00 +0100')", want: `"2022-06-22T17:45:00+01:00"`},
		{name: "time_parse epoch", expr: "time_parse('1702691171', '1702691171')", want: `"2023-12-16T01:46:11Z"`},
		{name: "time_parse bad epoch", expr: "time_parse('1', 'abc')", err: "JMESPath function 'time_parse'"},
		{name: "time_parse bad value", expr: "time_parse('2006-01-02', 'x')", err: "JMESPath function 'time_parse': parsing time"},
		{name: "time_to_cron", expr: "time_to_cron('2023-02-02T15:04:05Z')", want: `"4 15 2 2 4"`},
		{name: "time_to_cron bad", expr: "time_to_cron('x')", err: "JMESPath function 'time_to_cron'"},
		{name: "time_utc", expr: "time_utc('2023-02-02T15:04:05+01:00')", want: `"2023-02-02T14:04:05Z"`},
		{name: "time_utc bad", expr: "time_utc('x')", err: "JMESPath function 'time_utc'"},
		{name: "time_truncate", expr: "time_truncate('2023-02-02T15:04:05Z', '1h')", want: `"2023-02-02T15:00:00Z"`},
		{name: "time_truncate bad", expr: "time_truncate('2023-02-02T15:04:05Z', '1x')", err: "JMESPath function 'time_truncate'"},
	})
}

func TestDataFunctions(t *testing.T) {
	t.Parallel()
	digest := "sha256:" + strings.Repeat("a", 64)
	runCases(t, []evalCase{
		{name: "parse_json object", expr: "parse_json('{\"a\":[1,2]}')", want: `{"a":[1,2]}`},
		{name: "parse_json scalar", expr: "parse_json('true')", want: `true`},
		{name: "parse_json bad", expr: "parse_json('{')", err: "JMESPath function 'parse_json'"},
		{name: "parse_yaml flow", expr: "parse_yaml('{a: 1, b: [x]}')", want: `{"a":1,"b":["x"]}`},
		{name: "parse_yaml block", expr: "parse_yaml(doc)", data: `{"doc":"a: 1\nb:\n- x\n"}`, want: `{"a":1,"b":["x"]}`},
		{name: "parse_yaml bad", expr: "parse_yaml('a: [')", err: "JMESPath function 'parse_yaml'"},
		{name: "lookup key", expr: "lookup(`{\"a\":1}`, 'a')", want: "1"},
		{name: "lookup missing key", expr: "lookup(`{\"a\":1}`, 'b')", want: "null"},
		{name: "lookup index", expr: "lookup(`[1,2]`, `1`)", want: "2"},
		{name: "lookup index out of range", expr: "lookup(`[1,2]`, `5`)", want: "null"},
		{name: "lookup fractional index", expr: "lookup(`[1]`, `0.5`)", err: "JMESPath function 'lookup': argument #2: expected an integer number but got: 0.5"},
		{name: "lookup number key on object", expr: "lookup(`{\"a\":1}`, `1`)", err: "JMESPath function 'lookup': argument #2 is not of type String"},
		{name: "lookup string index on array", expr: "lookup(`[1]`, '0')", err: "argument #2 is not of type Number"},
		{name: "lookup bad container", expr: "lookup('x', 'a')", err: "argument #1 is not of type object|array"},
		{name: "items object sorted", expr: "items(`{\"b\":2,\"a\":1}`, 'key', 'value')", want: `[{"key":"a","value":1},{"key":"b","value":2}]`},
		{name: "items array", expr: "items(`[\"x\",\"y\"]`, 'i', 'v')", want: `[{"i":0,"v":"x"},{"i":1,"v":"y"}]`},
		{name: "items bad", expr: "items('x', 'k', 'v')", err: "argument #1 is not of type object|array"},
		{name: "items bad name", expr: "items(`{}`, `1`, 'v')", err: "argument #2 is not of type string"},
		{name: "object_from_lists", expr: "object_from_lists(['a', 'b'], [`1`])", want: `{"a":1,"b":null}`},
		{name: "object_from_lists numeric keys", expr: "object_from_lists([`1`, `true`], ['x', 'y'])", want: `{"1":"x","true":"y"}`},
		{name: "object_from_lists bad key", expr: "object_from_lists(`[{}]`, `[]`)", err: "JMESPath function 'object_from_lists': argument #1 is not of type StringArray"},
		{name: "object_from_lists bad", expr: "object_from_lists('a', `[]`)", err: "argument #1 is not of type array"},
		{name: "random empty", expr: "random('')", err: "JMESPath function 'random': no pattern provided"},
		{name: "random bad pattern", expr: "random('(')", err: "JMESPath function 'random': invalid pattern"},
		{name: "random fixed", expr: "random('abc')", want: `"abc"`},
		{name: "x509_decode bad", expr: "x509_decode('garbage')", err: "JMESPath function 'x509_decode': failed to decode PEM block"},
		{name: "image_normalize short", expr: "image_normalize('nginx')", want: `"docker.io/library/nginx:latest"`},
		{name: "image_normalize org", expr: "image_normalize('myorg/app:1')", want: `"docker.io/myorg/app:1"`},
		{name: "image_normalize registry", expr: "image_normalize('ghcr.io/kyverno/kyverno:v1.10')", want: `"ghcr.io/kyverno/kyverno:v1.10"`},
		{name: "image_normalize registry single path", expr: "image_normalize('ghcr.io/app')", want: `"ghcr.io/library/app:latest"`},
		{name: "image_normalize digest wins", expr: "image_normalize('localhost:5000/team/app:1@" + digest + "')", want: `"localhost:5000/team/app@` + digest + `"`},
		{name: "image_normalize uppercase", expr: "image_normalize('docker.io/Nginx')", err: "JMESPath function 'image_normalize': bad image: docker.io/Nginx"},
		{name: "image_normalize invalid", expr: "image_normalize('nginx::1')", err: "invalid reference format"},
		{name: "image_normalize bad digest", expr: "image_normalize('nginx@md5:" + strings.Repeat("a", 32) + "')", err: "unsupported digest algorithm"},
		{name: "image_normalize bad type", expr: "image_normalize(`1`)", err: "argument #1 is not of type string"},
	})
}

func TestBuiltinsStillWork(t *testing.T) {
	t.Parallel()
	doc := `{"s":"abc","arr":[3,1,2],"objs":[{"n":2,"k":"b"},{"n":1,"k":"a"}],"m":{"b":1,"a":2}}`
	runCases(t, []evalCase{
		{name: "length string", expr: "length(s)", data: doc, want: "3"},
		{name: "length bad", expr: "length(`1`)", err: "Invalid type for"},
		{name: "contains array", expr: "contains(arr, `1`)", data: doc, want: "true"},
		{name: "contains string", expr: "contains(s, 'bc')", data: doc, want: "true"},
		{name: "contains objects no panic", expr: "contains(`[{\"a\":1}]`, `{\"a\":1}`)", want: "true"},
		{name: "contains bad", expr: "contains(`1`, 'a')", err: "argument #1 is not of type string|array"},
		{name: "starts_with", expr: "starts_with(s, 'ab')", data: doc, want: "true"},
		{name: "ends_with", expr: "ends_with(s, 'bc')", data: doc, want: "true"},
		{name: "keys", expr: "sort(keys(m))", data: doc, want: `["a","b"]`},
		{name: "values", expr: "sort(values(m))", data: doc, want: `[1,2]`},
		{name: "join", expr: "join(',', objs[].k)", data: doc, want: `"b,a"`},
		{name: "max", expr: "max(arr)", data: doc, want: "3"},
		{name: "min", expr: "min(arr)", data: doc, want: "1"},
		{name: "sort_by", expr: "sort_by(objs, &n)[].k", data: doc, want: `["a","b"]`},
		{name: "max_by", expr: "max_by(objs, &n).k", data: doc, want: `"b"`},
		{name: "merge", expr: "merge(`{\"a\":1}`, `{\"b\":2}`)", want: `{"a":1,"b":2}`},
		{name: "to_array", expr: "to_array('a')", want: `["a"]`},
		{name: "not_null", expr: "not_null(missing, 'x')", data: doc, want: `"x"`},
		{name: "to_string", expr: "to_string(`1`)", want: `"1"`},
		{name: "to_number", expr: "to_number('1.5')", want: "1.5"},
		{name: "to_number invalid", expr: "to_number('x')", want: "null"},
		{name: "type", expr: "type(`true`)", want: `"boolean"`},
		{name: "reverse", expr: "reverse(s)", data: doc, want: `"cba"`},
		{name: "avg", expr: "avg(arr)", data: doc, want: "2"},
		{name: "map", expr: "map(&k, objs)", data: doc, want: `["b","a"]`},
		{name: "floor ceil", expr: "[floor(`1.5`), ceil(`1.5`)]", want: `[1,2]`},
		{name: "unknown function", expr: "nope(@)", err: "unknown function: nope"},
		{name: "merge bad arg recovered", expr: "merge(`1`)", err: "panicked"},
	})
}
