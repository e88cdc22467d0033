package jmespath

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/blang/semver/v4"

	"github.com/portcullis/portcullis/internal/wildcard"
)

func stringFunctions(i *Interpreter) []fnSpec {
	return []fnSpec{
		{name: "compare", args: []kind{kString, kString}, ret: "number",
			note: "compares two strings lexicographically",
			handler: func(a []any) (any, error) {
				return float64(strings.Compare(a[0].(string), a[1].(string))), nil
			}},
		{name: "equal_fold", args: []kind{kString, kString}, ret: "boolean",
			note: "allows comparing two strings for equivalency where the only differences are letter cases",
			handler: func(a []any) (any, error) {
				return strings.EqualFold(a[0].(string), a[1].(string)), nil
			}},
		{name: "replace", args: []kind{kString, kString, kString, kNumber}, ret: "string",
			note: "replaces a specified number of instances of the source string with the replacement string in a parent",
			handler: func(a []any) (any, error) {
				return strings.Replace(a[0].(string), a[1].(string), a[2].(string), int(num(a[3]))), nil
			}},
		{name: "replace_all", args: []kind{kString, kString, kString}, ret: "string",
			note: "replace all instances of one string with another in an overall parent string",
			handler: func(a []any) (any, error) {
				return strings.ReplaceAll(a[0].(string), a[1].(string), a[2].(string)), nil
			}},
		{name: "to_upper", args: []kind{kString}, ret: "string",
			note:    "takes in a string and outputs the same string with all upper-case letters",
			handler: func(a []any) (any, error) { return strings.ToUpper(a[0].(string)), nil }},
		{name: "to_lower", args: []kind{kString}, ret: "string",
			note:    "takes in a string and outputs the same string with all lower-case letters",
			handler: func(a []any) (any, error) { return strings.ToLower(a[0].(string)), nil }},
		{name: "trim", args: []kind{kString, kString}, ret: "string",
			note:    "trims both ends of the source string by characters appearing in the second string",
			handler: func(a []any) (any, error) { return strings.Trim(a[0].(string), a[1].(string)), nil }},
		{name: "trim_prefix", args: []kind{kString, kString}, ret: "string",
			note:    "trims the second string prefix from the first string if the first string starts with the prefix",
			handler: func(a []any) (any, error) { return strings.TrimPrefix(a[0].(string), a[1].(string)), nil }},
		{name: "split", args: []kind{kString, kString}, ret: "array[string]",
			note: "splits the first string when the second string is found and converts it into an array",
			handler: func(a []any) (any, error) {
				parts := strings.Split(a[0].(string), a[1].(string))
				out := make([]any, len(parts))
				for idx, p := range parts {
					out[idx] = p
				}
				return out, nil
			}},
		{name: "regex_replace_all", args: []kind{kString, kString | kNumber, kString | kNumber}, ret: "string",
			note:    "converts all parameters to string",
			handler: func(a []any) (any, error) { return i.regexReplace("regex_replace_all", a, false) }},
		{name: "regex_replace_all_literal", args: []kind{kString, kString | kNumber, kString | kNumber}, ret: "string",
			note:    "converts all parameters to string",
			handler: func(a []any) (any, error) { return i.regexReplace("regex_replace_all_literal", a, true) }},
		{name: "regex_match", args: []kind{kString, kString | kNumber}, ret: "boolean",
			note: "first string is the regular exression which is compared with second input which can be a number or string",
			handler: func(a []any) (any, error) {
				src, err := scalarString(a[1])
				if err != nil {
					return nil, fmt.Errorf(errArgType, "regex_match", 2, "String or Real")
				}
				re, err := i.regex(a[0].(string))
				if err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "regex_match", err)
				}
				return re.MatchString(src), nil
			}},
		{name: "pattern_match", args: []kind{kString, kString | kNumber}, ret: "boolean",
			note: "'*' matches zero or more alphanumeric characters, '?' matches a single alphanumeric character",
			handler: func(a []any) (any, error) {
				src, err := scalarString(a[1])
				if err != nil {
					return nil, fmt.Errorf(errArgType, "pattern_match", 2, "String or Real")
				}
				return wildcard.Match(a[0].(string), src), nil
			}},
		{name: "label_match", args: []kind{kObject, kObject}, ret: "boolean",
			note: "object arguments must be enclosed in backticks; ex. `{{request.object.spec.template.metadata.labels}}`",
			handler: func(a []any) (any, error) {
				selector, labels := a[0].(map[string]any), a[1].(map[string]any)
				for k, want := range selector {
					got, ok := labels[k]
					if !ok || !sameValue(got, want) {
						return false, nil
					}
				}
				return true, nil
			}},
		{name: "to_boolean", args: []kind{kString}, ret: "boolean",
			note: "It returns true or false for any string, such as 'True', 'TruE', 'False', 'FAlse', 'faLSE', etc.",
			handler: func(a []any) (any, error) {
				s := a[0].(string)
				switch strings.ToLower(s) {
				case "true":
					return true, nil
				case "false":
					return false, nil
				}
				return nil, fmt.Errorf(errGeneric, "to_boolean",
					fmt.Sprintf("lowercase argument must be 'true' or 'false' (provided: '%s')", s))
			}},
		{name: "base64_decode", args: []kind{kString}, ret: "string",
			note: "decodes a base 64 string",
			handler: func(a []any) (any, error) {
				b, err := base64.StdEncoding.DecodeString(a[0].(string))
				if err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "base64_decode", err)
				}
				return string(b), nil
			}},
		{name: "base64_encode", args: []kind{kString}, ret: "string",
			note: "encodes a regular, plaintext and unencoded string to base64",
			handler: func(a []any) (any, error) {
				return base64.StdEncoding.EncodeToString([]byte(a[0].(string))), nil
			}},
		{name: "path_canonicalize", args: []kind{kString}, ret: "string",
			note:    "normalizes or canonicalizes a given path by removing excess slashes",
			handler: func(a []any) (any, error) { return filepath.Join(a[0].(string)), nil }},
		{name: "truncate", args: []kind{kString, kNumber}, ret: "string",
			note: "length argument must be enclosed in backticks; ex. \"{{request.object.metadata.name | truncate(@, `9`)}}\"",
			handler: func(a []any) (any, error) {
				s, n := a[0].(string), num(a[1])
				if n < 0 {
					n = 0
				}
				r := []rune(s)
				if float64(len(r)) <= n {
					return s, nil
				}
				return string(r[:int(n)]), nil
			}},
		{name: "semver_compare", args: []kind{kString, kString}, ret: "boolean",
			note: "compares two strings which comply with the semantic versioning schema and outputs a boolean response as to the position of the second relative to the first",
			handler: func(a []any) (any, error) {
				// As in Kyverno, an unparsable version compares as 0.0.0.
				version, _ := semver.Parse(a[0].(string))
				rng, err := semver.ParseRange(a[1].(string))
				if err != nil {
					return nil, fmt.Errorf(errPrefix+"%w", "semver_compare", err)
				}
				return rng(version), nil
			}},
		{name: "sha256", args: []kind{kString}, ret: "string",
			note: "returns the hex-encoded SHA-256 digest of the string",
			handler: func(a []any) (any, error) {
				sum := sha256.Sum256([]byte(a[0].(string)))
				return hex.EncodeToString(sum[:]), nil
			}},
		{name: "md5", args: []kind{kString}, ret: "string",
			note: "returns the hex-encoded MD5 digest of the string",
			handler: func(a []any) (any, error) {
				sum := md5.Sum([]byte(a[0].(string)))
				return hex.EncodeToString(sum[:]), nil
			}},
		{name: "is_external_url", args: []kind{kString}, ret: "boolean",
			note:    "reports whether the string is an absolute http(s) URL whose host is not loopback, private, link-local or a cluster-local name",
			handler: func(a []any) (any, error) { return isExternalURL(a[0].(string)), nil }},
	}
}

func (i *Interpreter) regexReplace(name string, a []any, literal bool) (any, error) {
	src, err := scalarString(a[1])
	if err != nil {
		return nil, fmt.Errorf(errArgType, name, 2, "String or Real")
	}
	repl, err := scalarString(a[2])
	if err != nil {
		return nil, fmt.Errorf(errArgType, name, 3, "String or Real")
	}
	re, err := i.regex(a[0].(string))
	if err != nil {
		return nil, fmt.Errorf(errPrefix+"%w", name, err)
	}
	if literal {
		return re.ReplaceAllLiteralString(src, repl), nil
	}
	return re.ReplaceAllString(src, repl), nil
}

// sameValue compares two JSON-like values without panicking on
// uncomparable types.
func sameValue(a, b any) bool {
	switch a.(type) {
	case map[string]any, []any:
		return reflect.DeepEqual(a, b)
	}
	switch b.(type) {
	case map[string]any, []any:
		return false
	}
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if reflect.TypeOf(a).Comparable() && reflect.TypeOf(b).Comparable() {
		return a == b
	}
	return reflect.DeepEqual(a, b)
}

// isExternalURL: an absolute http/https URL with a host that is neither an
// IP in a loopback/private/link-local/unspecified range nor "localhost" nor
// a Kubernetes cluster-internal name (*.svc, *.cluster.local, *.local, or a
// single-label host).
func isExternalURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
			ip.IsLinkLocalMulticast() || ip.IsUnspecified())
	}
	host = strings.TrimSuffix(host, ".")
	if host == "localhost" || !strings.Contains(host, ".") {
		return false
	}
	for _, suffix := range []string{".localhost", ".local", ".svc", ".cluster.local", ".internal"} {
		if strings.HasSuffix(host, suffix) {
			return false
		}
	}
	return true
}
