package pattern

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

type matchCase struct {
	name     string
	pattern  string
	resource string
	want     string // pass, fail, skip, error
	path     string // expected Error.Path when want is fail
	msg      string // expected message fragment
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(y(t, tc.pattern))
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, pe := outcome(t, p.Validate(y(t, tc.resource)))
			if got != tc.want {
				msg := ""
				if pe != nil {
					msg = pe.Message + " @ " + pe.Path
				}
				t.Fatalf("outcome = %s (%s), want %s", got, msg, tc.want)
			}
			if pe == nil {
				return
			}
			if tc.want == "fail" && pe.Path != tc.path {
				t.Errorf("path = %q, want %q (msg %q)", pe.Path, tc.path, pe.Message)
			}
			if tc.want != "fail" && pe.Path != "" {
				t.Errorf("path = %q, want empty for %s", pe.Path, tc.want)
			}
			if tc.msg != "" && !strings.Contains(pe.Message, tc.msg) {
				t.Errorf("message = %q, want it to contain %q", pe.Message, tc.msg)
			}
		})
	}
}

func TestScalarsAndOperators(t *testing.T) {
	t.Parallel()
	runMatchCases(t, []matchCase{
		{name: "wildcard match", pattern: `{image: "nginx:*"}`, resource: `{image: "nginx:1.2"}`, want: "pass"},
		{name: "wildcard mismatch", pattern: `{image: "nginx:*"}`, resource: `{image: "busybox"}`, want: "fail", path: "/image/",
			msg: "resource value 'busybox' does not match 'nginx:*' at path /image/"},
		{name: "question mark", pattern: `{v: "v?"}`, resource: `{v: "v1"}`, want: "pass"},
		{name: "question mark too long", pattern: `{v: "v?"}`, resource: `{v: "v12"}`, want: "fail", path: "/v/"},
		{name: "non-empty on value", pattern: `{a: "?*"}`, resource: `{a: "x"}`, want: "pass"},
		{name: "non-empty on empty string", pattern: `{a: "?*"}`, resource: `{a: ""}`, want: "fail", path: "/a/"},
		{name: "non-empty on missing", pattern: `{a: "?*"}`, resource: `{}`, want: "fail", path: "/a/"},
		{name: "non-empty on number", pattern: `{a: "?*"}`, resource: `{a: 3}`, want: "pass"},
		{name: "star present", pattern: `{metadata: {name: "*"}}`, resource: `{metadata: {name: x}}`, want: "pass"},
		{name: "star matches map value", pattern: `{spec: "*"}`, resource: `{spec: {a: 1}}`, want: "pass"},
		{name: "star missing reports parent path", pattern: `{metadata: {name: "*"}}`, resource: `{metadata: {}}`, want: "fail",
			path: "/metadata/", msg: "/metadata//name not found"},
		{name: "star null value", pattern: `{metadata: {name: "*"}}`, resource: `{metadata: {name: null}}`, want: "fail", path: "/metadata/"},
		{name: "star empty string present", pattern: `{a: "*"}`, resource: `{a: ""}`, want: "pass"},
		{name: "negation wildcard ok", pattern: `{image: "!*:latest"}`, resource: `{image: "nginx:1"}`, want: "pass"},
		{name: "negation wildcard hit", pattern: `{image: "!*:latest"}`, resource: `{image: "nginx:latest"}`, want: "fail", path: "/image/"},
		{name: "negation on missing key fails", pattern: `{privileged: "!true"}`, resource: `{}`, want: "fail", path: "/privileged/"},
		{name: "negation on bool", pattern: `{privileged: "!true"}`, resource: `{privileged: false}`, want: "pass"},
		{name: "bang-equals is negation of =x", pattern: `{a: "!=foo"}`, resource: `{a: "foo"}`, want: "pass"},
		{name: "bang-equals literal", pattern: `{a: "!=foo"}`, resource: `{a: "=foo"}`, want: "fail", path: "/a/"},
		{name: "or registries first", pattern: `{image: "eu.foo.io/* | bar.io/*"}`, resource: `{image: "eu.foo.io/app:1"}`, want: "pass"},
		{name: "or registries second", pattern: `{image: "eu.foo.io/* | bar.io/*"}`, resource: `{image: "bar.io/app"}`, want: "pass"},
		{name: "or registries none", pattern: `{image: "eu.foo.io/* | bar.io/*"}`, resource: `{image: "docker.io/app"}`, want: "fail", path: "/image/"},
		{name: "and both", pattern: `{k: "!*+* & !*=*"}`, resource: `{k: "abc"}`, want: "pass"},
		{name: "and one fails", pattern: `{k: "!*+* & !*=*"}`, resource: `{k: "a=b"}`, want: "fail", path: "/k/"},
		{name: "whole string equality shortcut", pattern: `{a: "x|y"}`, resource: `{a: "x|y"}`, want: "pass"},
		{name: "empty alternative matches empty", pattern: `{a: "x|"}`, resource: `{a: ""}`, want: "pass"},
		{name: "more than zero", pattern: `{num: ">0"}`, resource: `{num: 1}`, want: "pass"},
		{name: "more than zero fails", pattern: `{num: ">0"}`, resource: `{num: 0}`, want: "fail", path: "/num/"},
		{name: "more than zero string number", pattern: `{num: ">0"}`, resource: `{num: "5"}`, want: "pass"},
		{name: "more than zero missing is 0", pattern: `{num: ">0"}`, resource: `{}`, want: "fail", path: "/num/"},
		{name: "less than on missing is 0", pattern: `{num: "<10"}`, resource: `{}`, want: "pass"},
		{name: "less equal", pattern: `{num: "<=10"}`, resource: `{num: 10}`, want: "pass"},
		{name: "more equal fails", pattern: `{num: ">= 10"}`, resource: `{num: 9}`, want: "fail", path: "/num/"},
		{name: "ordering on plain strings never matches", pattern: `{num: ">abc"}`, resource: `{num: "abd"}`, want: "fail", path: "/num/"},
		{name: "quantity less", pattern: `{m: "<2Gi"}`, resource: `{m: "1Gi"}`, want: "pass"},
		{name: "quantity less fails", pattern: `{m: "<2Gi"}`, resource: `{m: "3Gi"}`, want: "fail", path: "/m/"},
		{name: "quantity equality across units", pattern: `{m: "1Gi"}`, resource: `{m: "1024Mi"}`, want: "pass"},
		{name: "quantity more equal across units", pattern: `{m: ">=1024Mi"}`, resource: `{m: "1Gi"}`, want: "pass"},
		{name: "quantity milli cpu", pattern: `{cpu: "<=500m"}`, resource: `{cpu: "0.5"}`, want: "pass"},
		{name: "quantity not equal", pattern: `{m: "!1Gi"}`, resource: `{m: "1024Mi"}`, want: "fail", path: "/m/"},
		{name: "duration less", pattern: `{d: "<30m"}`, resource: `{d: "10m"}`, want: "pass"},
		{name: "duration less fails", pattern: `{d: "<30m"}`, resource: `{d: "1h"}`, want: "fail", path: "/d/"},
		{name: "duration equality", pattern: `{d: "1h"}`, resource: `{d: "60m"}`, want: "pass"},
		{name: "duration zero vs nil", pattern: `{d: "0"}`, resource: `{}`, want: "pass"},
		{name: "range in", pattern: `{p: "100-200 | 500-600"}`, resource: `{p: 150}`, want: "pass"},
		{name: "range out", pattern: `{p: "100-200 | 500-600"}`, resource: `{p: 300}`, want: "fail", path: "/p/"},
		{name: "range second", pattern: `{p: "100-200 | 500-600"}`, resource: `{p: 600}`, want: "pass"},
		{name: "not in range below", pattern: `{p: "1!-10"}`, resource: `{p: 0}`, want: "pass"},
		{name: "not in range inside", pattern: `{p: "1!-10"}`, resource: `{p: 5}`, want: "fail", path: "/p/"},
		{name: "not in range above", pattern: `{p: "1!-10"}`, resource: `{p: 11}`, want: "pass"},
		{name: "range quantities", pattern: `{m: "1Gi-2Gi"}`, resource: `{m: "1536Mi"}`, want: "pass"},
		{name: "range negative bounds", pattern: `{num: "-5-5"}`, resource: `{num: -3}`, want: "pass"},
		{name: "string pattern vs number", pattern: `{num: "1"}`, resource: `{num: 1}`, want: "pass"},
		{name: "number pattern vs string", pattern: `{num: 1}`, resource: `{num: "1"}`, want: "pass"},
		{name: "number pattern vs float", pattern: `{num: 1}`, resource: `{num: 1.5}`, want: "fail", path: "/num/"},
		{name: "number pattern vs bad string", pattern: `{num: 1}`, resource: `{num: "one"}`, want: "fail", path: "/num/"},
		{name: "float pattern", pattern: `{num: 1.5}`, resource: `{num: 1.5}`, want: "pass"},
		{name: "bool pattern vs string", pattern: `{b: true}`, resource: `{b: "true"}`, want: "fail", path: "/b/"},
		{name: "bool pattern", pattern: `{b: false}`, resource: `{b: false}`, want: "pass"},
		{name: "string bool pattern vs bool", pattern: `{b: "false"}`, resource: `{b: false}`, want: "pass"},
		{name: "int wildcard on number", pattern: `{port: "8*"}`, resource: `{port: 8080}`, want: "pass"},
		{name: "host port zero string", pattern: `{hostPort: "0"}`, resource: `{hostPort: 0}`, want: "pass"},
		{name: "host port zero string fails", pattern: `{hostPort: "0"}`, resource: `{hostPort: 8080}`, want: "fail", path: "/hostPort/"},
		{name: "null pattern missing", pattern: `{a: null}`, resource: `{}`, want: "pass"},
		{name: "null pattern zero", pattern: `{a: null}`, resource: `{a: 0}`, want: "pass"},
		{name: "null pattern empty string", pattern: `{a: null}`, resource: `{a: ""}`, want: "pass"},
		{name: "null pattern false", pattern: `{a: null}`, resource: `{a: false}`, want: "pass"},
		{name: "null pattern string", pattern: `{a: null}`, resource: `{a: "x"}`, want: "fail", path: "/a/"},
		{name: "null pattern map", pattern: `{a: null}`, resource: `{a: {}}`, want: "fail", path: "/a/"},
		{name: "null string pattern is literal", pattern: `{a: "null"}`, resource: `{}`, want: "fail", path: "/a/"},
		{name: "leftover variable literal", pattern: `{a: "{{ request.name }}"}`, resource: `{a: "{{ request.name }}"}`, want: "pass"},
		{name: "scalar over array all", pattern: `{a: "x*"}`, resource: `{a: [x1, x2]}`, want: "pass"},
		{name: "scalar over array one bad", pattern: `{a: "x*"}`, resource: `{a: [x1, z1]}`, want: "fail", path: "/a/",
			msg: "resource value '[x1 z1]' does not match 'x*'"},
		{name: "scalar over empty array", pattern: `{a: "x*"}`, resource: `{a: []}`, want: "pass"},
		{name: "scalar vs map", pattern: `{a: "x"}`, resource: `{a: {b: c}}`, want: "fail", path: "/a/"},
	})
}

func TestStructure(t *testing.T) {
	t.Parallel()
	runMatchCases(t, []matchCase{
		{name: "map vs string", pattern: `{spec: {a: b}}`, resource: `{spec: x}`, want: "fail", path: "/spec/",
			msg: "pattern and resource have different structures. Path: /spec/. Expected map[string]interface {}, found string"},
		{name: "map vs missing", pattern: `{spec: {a: b}}`, resource: `{}`, want: "fail", path: "/spec/", msg: "found <nil>"},
		{name: "array vs missing", pattern: `{spec: {containers: [{name: "*"}]}}`, resource: `{spec: {}}`, want: "fail",
			path: "/spec/containers/", msg: "resource does not satisfy the expected overlay pattern"},
		{name: "array vs map", pattern: `{a: [x]}`, resource: `{a: {b: c}}`, want: "fail", path: "/a/"},
		{name: "array of maps every element", pattern: `{c: [{image: "nginx*"}]}`, resource: `{c: [{image: nginx}, {image: busybox}]}`,
			want: "fail", path: "/c/1/image/"},
		{name: "array of maps empty resource", pattern: `{c: [{image: "nginx*"}]}`, resource: `{c: []}`, want: "pass"},
		{name: "array of maps ignores later pattern elements", pattern: `{c: [{a: 1}, {b: 2}]}`, resource: `{c: [{a: 1}]}`, want: "pass"},
		{name: "array of maps element not a map", pattern: `{c: [{a: 1}]}`, resource: `{c: [x]}`, want: "fail", path: "/c/0/"},
		{name: "array of scalars uses first", pattern: `{a: [x, w]}`, resource: `{a: [x, x]}`, want: "pass"},
		{name: "array of scalars mismatch", pattern: `{a: [x, w]}`, resource: `{a: [x, w]}`, want: "fail", path: "/a/"},
		{name: "positional arrays", pattern: `{a: [[1], [2]]}`, resource: `{a: [[1], [2], [3]]}`, want: "pass"},
		{name: "positional arrays mismatch", pattern: `{a: [[1], [2]]}`, resource: `{a: [[1], [3]]}`, want: "fail", path: "/a/1/"},
		{name: "positional arrays too short is error", pattern: `{a: [[1], [2]]}`, resource: `{a: [[1]]}`, want: "error",
			msg: "array length mismatch, resource Array len is 1 and pattern Array len is 2"},
		{name: "empty pattern array", pattern: `{a: []}`, resource: `{a: [1]}`, want: "fail", path: "/a/", msg: "pattern Array empty"},
		{name: "root scalar", pattern: `"?*"`, resource: `"x"`, want: "pass"},
		{name: "root mismatch", pattern: `{a: 1}`, resource: `[1]`, want: "fail", path: "/"},
	})
}

func TestAnchors(t *testing.T) {
	t.Parallel()
	cond := `{spec: {(hostNetwork): true, hostPID: false}}`
	arr := `{spec: {containers: [{(name): "nginx*", image: "*:1.*"}]}}`
	exist := `{spec: {^(containers): [{image: "nginx*"}]}}`
	global := `{spec: {<(storageClassName): fast, size: "<1Gi"}}`
	runMatchCases(t, []matchCase{
		{name: "conditional mismatch skips", pattern: cond, resource: `{spec: {hostNetwork: false, hostPID: true}}`, want: "skip",
			msg: "conditional anchor mismatch: resource value 'false' does not match 'true' at path /spec/hostNetwork/"},
		{name: "conditional key missing skips", pattern: cond, resource: `{spec: {hostPID: true}}`, want: "skip",
			msg: "conditional anchor key doesn't exist in the resource"},
		{name: "conditional match then pass", pattern: cond, resource: `{spec: {hostNetwork: true, hostPID: false}}`, want: "pass"},
		{name: "conditional match then fail", pattern: cond, resource: `{spec: {hostNetwork: true, hostPID: true}}`, want: "fail", path: "/spec/hostPID/"},
		{name: "conditional array some apply", pattern: arr, resource: `{spec: {containers: [{name: busybox, image: "b:latest"}, {name: nginx, image: "n:1.2"}]}}`, want: "pass"},
		{name: "conditional array applied element fails", pattern: arr, resource: `{spec: {containers: [{name: busybox}, {name: nginx, image: "n:latest"}]}}`,
			want: "fail", path: "/spec/containers/1/image/"},
		{name: "conditional array none apply skips", pattern: arr, resource: `{spec: {containers: [{name: busybox}, {image: x}]}}`, want: "skip",
			msg: "conditional anchor mismatch: resource value 'busybox' does not match 'nginx*' at path /spec/containers/0/name/; conditional anchor mismatch: conditional anchor key doesn't exist"},
		{name: "conditional nested map value", pattern: `{spec: {(securityContext): {runAsUser: 0}, hostPID: false}}`,
			resource: `{spec: {securityContext: {runAsUser: 1000}, hostPID: true}}`, want: "skip"},
		{name: "conditional nested in conditional", pattern: `{(metadata): {(labels): {app: web}}, spec: {a: 1}}`,
			resource: `{metadata: {labels: {app: web}}, spec: {a: 2}}`, want: "fail", path: "/spec/a/"},
		{name: "conditional evaluated before fields", pattern: `{(kind): Pod, spec: {a: 1}}`, resource: `{kind: Service, spec: {a: 2}}`, want: "skip"},
		{name: "equality absent", pattern: `{spec: {=(securityContext): {=(allowPrivilegeEscalation): "false"}}}`, resource: `{spec: {}}`, want: "pass"},
		{name: "equality present ok", pattern: `{spec: {=(securityContext): {=(allowPrivilegeEscalation): "false"}}}`,
			resource: `{spec: {securityContext: {allowPrivilegeEscalation: false}}}`, want: "pass"},
		{name: "equality present bad", pattern: `{spec: {=(securityContext): {=(allowPrivilegeEscalation): "false"}}}`,
			resource: `{spec: {securityContext: {allowPrivilegeEscalation: true}}}`, want: "fail", path: "/spec/securityContext/allowPrivilegeEscalation/"},
		{name: "equality null value checked", pattern: `{a: {=(b): "?*"}}`, resource: `{a: {b: null}}`, want: "fail", path: "/a/b/"},
		{name: "equality propagates nested skip", pattern: `{=(spec): {(x): 1, w: 2}}`, resource: `{spec: {x: 2, w: 3}}`, want: "skip"},
		{name: "existence one matches", pattern: exist, resource: `{spec: {containers: [{image: busybox}, {image: nginx}]}}`, want: "pass"},
		{name: "existence none matches", pattern: exist, resource: `{spec: {containers: [{image: busybox}]}}`, want: "fail", path: "/spec/containers/",
			msg: "existence anchor validation failed at path /spec/containers/"},
		{name: "existence empty list", pattern: exist, resource: `{spec: {containers: []}}`, want: "fail", path: "/spec/containers/"},
		{name: "existence key absent", pattern: exist, resource: `{spec: {}}`, want: "pass"},
		{name: "existence resource not list", pattern: exist, resource: `{spec: {containers: {image: nginx}}}`, want: "fail", path: "/spec/containers/",
			msg: "invalid resource type map[string]interface {}: Existence ^ () anchor can be used only on list/array type resource"},
		{name: "existence every pattern item", pattern: `{c: {^(l): [{a: 1}, {b: 2}]}}`, resource: `{c: {l: [{a: 1}, {b: 3}]}}`, want: "fail", path: "/c/l/"},
		{name: "existence pattern not list", pattern: `{c: {^(l): {a: 1}}}`, resource: `{c: {l: [{a: 1}]}}`, want: "fail", path: "/c/l/",
			msg: "invalid pattern type map[string]interface {}: Pattern has to be of list"},
		{name: "existence missing key with other failure is error", pattern: `{spec: {^(containers): [{image: "nginx*"}], x: wanted}}`,
			resource: `{spec: {x: z}}`, want: "error", msg: "resource value 'z' does not match 'wanted'"},
		{name: "negation absent", pattern: `{spec: {=(volumes): [{X(hostPath): "null"}]}}`, resource: `{spec: {volumes: [{name: a, emptyDir: {}}]}}`, want: "pass"},
		{name: "negation present", pattern: `{spec: {=(volumes): [{X(hostPath): "null"}]}}`, resource: `{spec: {volumes: [{name: a}, {hostPath: {path: /}}]}}`,
			want: "fail", path: "/spec/volumes/1/hostPath/", msg: "negation anchor matched in resource: /spec/volumes/1/hostPath/ is not allowed"},
		{name: "negation present null", pattern: `{X(a): null}`, resource: `{a: null}`, want: "fail", path: "/a/"},
		{name: "negation wins over missing anchor keys", pattern: `{spec: {^(containers): [{image: x}], X(hostPID): null}}`,
			resource: `{spec: {hostPID: true}}`, want: "fail", path: "/spec/hostPID/"},
		{name: "negation inside conditional value skips", pattern: `{(spec): {X(a): null}, b: 1}`, resource: `{spec: {a: 1}, b: 2}`, want: "skip"},
		{name: "global mismatch skips", pattern: global, resource: `{spec: {storageClassName: slow, size: 5Gi}}`, want: "skip",
			msg: "global anchor mismatch: resource value 'slow' does not match 'fast'"},
		{name: "global match then check", pattern: global, resource: `{spec: {storageClassName: fast, size: 5Gi}}`, want: "fail", path: "/spec/size/"},
		{name: "global match pass", pattern: global, resource: `{spec: {storageClassName: fast, size: 500Mi}}`, want: "pass"},
		{name: "global absent is ignored", pattern: global, resource: `{spec: {size: 5Gi}}`, want: "fail", path: "/spec/size/"},
		{name: "global in array all skipped", pattern: `{c: [{<(image): "nginx*", name: "x*"}]}`, resource: `{c: [{image: busybox, name: w1}]}`, want: "skip"},
		{name: "global in array partially applies", pattern: `{c: [{<(image): "nginx*", name: "x*"}]}`,
			resource: `{c: [{image: busybox, name: w1}, {image: nginx, name: x1}]}`, want: "pass"},
		{name: "global deep skips whole rule", pattern: `{spec: {template: {spec: {<(runtimeClassName): gvisor}}}, metadata: {labels: {a: "?*"}}}`,
			resource: `{spec: {template: {spec: {runtimeClassName: runc}}}, metadata: {}}`, want: "skip"},
		{name: "add anchor ignored", pattern: `{metadata: {+(labels): {a: b}}, spec: {x: 1}}`, resource: `{metadata: {}, spec: {x: 1}}`, want: "pass"},
		{name: "malformed anchor is a plain key", pattern: `{"(foo": "?*"}`, resource: `{"(foo": x}`, want: "pass"},
		{name: "nested anchor key skip wins over sibling fail", pattern: `{spec: {c: [{(name): a, image: b}]}, z: 1}`,
			resource: `{spec: {c: [{name: x}]}, z: 2}`, want: "skip"},
	})
}

func TestMetadataWildcardKeys(t *testing.T) {
	t.Parallel()
	runMatchCases(t, []matchCase{
		{name: "label wildcard key matches", pattern: `{metadata: {labels: {"app.kubernetes.io/*": "?*"}}}`,
			resource: `{metadata: {labels: {"app.kubernetes.io/name": web}}}`, want: "pass"},
		{name: "label wildcard key expands into path", pattern: `{metadata: {labels: {"app.kubernetes.io/*": "web"}}}`,
			resource: `{metadata: {labels: {"app.kubernetes.io/name": api}}}`, want: "fail", path: "/metadata/labels/app.kubernetes.io/name/"},
		{name: "label wildcard key absent", pattern: `{metadata: {labels: {"team-*": "?*"}}}`,
			resource: `{metadata: {labels: {other: x}}}`, want: "fail", path: "/metadata/labels/team-*/"},
		{name: "anchored annotation wildcard", pattern: `{metadata: {annotations: {"=(sidecar.istio.io/*)": "!false"}}}`,
			resource: `{metadata: {annotations: {"sidecar.istio.io/inject": "false"}}}`, want: "fail", path: "/metadata/annotations/sidecar.istio.io/inject/"},
		{name: "wildcard keys outside metadata are literal", pattern: `{spec: {"a*": "?*"}}`, resource: `{spec: {ab: x}}`, want: "fail", path: "/spec/a*/"},
	})
}

func TestCorpusStylePatterns(t *testing.T) {
	t.Parallel()
	requests := `{spec: {containers: [{resources: {requests: {memory: "?*", cpu: "?*"}, limits: {memory: "?*"}}}],
		"=(initContainers)": [{resources: {requests: {memory: "?*", cpu: "?*"}, limits: {memory: "?*"}}}]}}`
	privEsc := `{spec: {"=(ephemeralContainers)": [{securityContext: {allowPrivilegeEscalation: "false"}}],
		"=(initContainers)": [{securityContext: {allowPrivilegeEscalation: "false"}}],
		containers: [{securityContext: {allowPrivilegeEscalation: "false"}}]}}`
	hostPorts := `{spec: {"=(initContainers)": [{"=(ports)": [{"=(hostPort)": 0}]}], containers: [{"=(ports)": [{"=(hostPort)": 0}]}]}}`
	runAsUser := `{spec: {"=(securityContext)": {"=(runAsUser)": ">0"}, containers: [{"=(securityContext)": {"=(runAsUser)": ">0"}}]}}`
	nonRoot0 := `{spec: {securityContext: {runAsNonRoot: "true"}, containers: [{"=(securityContext)": {"=(runAsNonRoot)": "true"}}]}}`
	nonRoot1 := `{spec: {containers: [{securityContext: {runAsNonRoot: "true"}}]}}`
	seccomp := `{spec: {"=(securityContext)": {"=(seccompProfile)": {"=(type)": "RuntimeDefault | Localhost"}}}}`
	runMatchCases(t, []matchCase{
		{name: "requests limits ok", pattern: requests, resource: `{spec: {containers: [{resources: {requests: {memory: 1Gi, cpu: 1}, limits: {memory: 1Gi}}}]}}`, want: "pass"},
		{name: "requests limits missing cpu", pattern: requests, resource: `{spec: {containers: [{resources: {requests: {memory: 1Gi}, limits: {memory: 1Gi}}}]}}`,
			want: "fail", path: "/spec/containers/0/resources/requests/cpu/"},
		{name: "requests limits init container", pattern: requests,
			resource: `{spec: {containers: [{resources: {requests: {memory: 1Gi, cpu: 1}, limits: {memory: 1Gi}}}], initContainers: [{name: i}]}}`,
			want:     "fail", path: "/spec/initContainers/0/resources/"},
		{name: "priv esc false", pattern: privEsc, resource: `{spec: {containers: [{securityContext: {allowPrivilegeEscalation: false}}]}}`, want: "pass"},
		{name: "priv esc missing", pattern: privEsc, resource: `{spec: {containers: [{name: a}]}}`, want: "fail", path: "/spec/containers/0/securityContext/"},
		{name: "priv esc true in init", pattern: privEsc,
			resource: `{spec: {containers: [{securityContext: {allowPrivilegeEscalation: false}}], initContainers: [{securityContext: {allowPrivilegeEscalation: true}}]}}`,
			want:     "fail", path: "/spec/initContainers/0/securityContext/allowPrivilegeEscalation/"},
		{name: "host ports unset", pattern: hostPorts, resource: `{spec: {containers: [{name: a, ports: [{containerPort: 80}]}]}}`, want: "pass"},
		{name: "host ports zero", pattern: hostPorts, resource: `{spec: {containers: [{ports: [{hostPort: 0}]}]}}`, want: "pass"},
		{name: "host ports set", pattern: hostPorts, resource: `{spec: {containers: [{ports: [{containerPort: 80}, {hostPort: 8080}]}]}}`,
			want: "fail", path: "/spec/containers/0/ports/1/hostPort/"},
		{name: "run as user positive", pattern: runAsUser, resource: `{spec: {securityContext: {runAsUser: 1000}, containers: [{name: a}]}}`, want: "pass"},
		{name: "run as user root container", pattern: runAsUser, resource: `{spec: {containers: [{securityContext: {runAsUser: 0}}]}}`,
			want: "fail", path: "/spec/containers/0/securityContext/runAsUser/"},
		{name: "nonroot pod level", pattern: nonRoot0, resource: `{spec: {securityContext: {runAsNonRoot: true}, containers: [{name: a}]}}`, want: "pass"},
		{name: "nonroot pod level missing", pattern: nonRoot0, resource: `{spec: {containers: [{securityContext: {runAsNonRoot: true}}]}}`,
			want: "fail", path: "/spec/securityContext/"},
		{name: "nonroot container level", pattern: nonRoot1, resource: `{spec: {containers: [{securityContext: {runAsNonRoot: true}}]}}`, want: "pass"},
		{name: "nonroot container level false", pattern: nonRoot1, resource: `{spec: {containers: [{securityContext: {runAsNonRoot: false}}]}}`,
			want: "fail", path: "/spec/containers/0/securityContext/runAsNonRoot/"},
		{name: "seccomp alternatives", pattern: seccomp, resource: `{spec: {securityContext: {seccompProfile: {type: Localhost}}}}`, want: "pass"},
		{name: "seccomp unconfined", pattern: seccomp, resource: `{spec: {securityContext: {seccompProfile: {type: Unconfined}}}}`,
			want: "fail", path: "/spec/securityContext/seccompProfile/type/"},
	})
}

func TestFloatNumbersOption(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		floats bool
		want   bool
	}{
		{name: "integers by default", floats: false, want: true},
		{name: "floats like foreach elements", floats: true, want: false},
	}
	p, err := Compile(y(t, `{port: "*0"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := p.ValidateWithOptions(map[string]any{"port": float64(80)}, Options{FloatNumbers: tc.floats})
			if (err == nil) != tc.want {
				t.Fatalf("match = %v, want %v (err %v)", err == nil, tc.want, err)
			}
		})
	}
}

func TestNumericGoTypes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		pattern  any
		resource any
		want     bool
	}{
		{name: "int resource", pattern: map[string]any{"n": ">1"}, resource: map[string]any{"n": 2}, want: true},
		{name: "int64 resource", pattern: map[string]any{"n": float64(2)}, resource: map[string]any{"n": int64(2)}, want: true},
		{name: "int pattern", pattern: map[string]any{"n": 2}, resource: map[string]any{"n": float64(2)}, want: true},
		{name: "float32 resource", pattern: map[string]any{"n": 1.5}, resource: map[string]any{"n": float32(1.5)}, want: true},
		{name: "json number resource", pattern: map[string]any{"n": "<10"}, resource: map[string]any{"n": jsonNumber("3")}, want: true},
		{name: "json number pattern", pattern: map[string]any{"n": jsonNumber("3")}, resource: map[string]any{"n": 3}, want: true},
		{name: "uint resource", pattern: map[string]any{"n": "8*"}, resource: map[string]any{"n": uint(80)}, want: true},
		{name: "unknown resource type", pattern: map[string]any{"n": "?*"}, resource: map[string]any{"n": struct{}{}}, want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tc.resource, tc.pattern)
			if (err == nil) != tc.want {
				t.Fatalf("match = %v, want %v (err %v)", err == nil, tc.want, err)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		pattern any
		path    string
	}{
		{name: "struct value", pattern: map[string]any{"a": struct{}{}}, path: "/a"},
		{name: "nested channel", pattern: map[string]any{"a": []any{map[string]any{"b": make(chan int)}}}, path: "/a/0/b"},
		{name: "string map", pattern: map[string]string{"a": "b"}, path: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.pattern)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *SyntaxError", err)
			}
			if se.Path != tc.path || !strings.Contains(se.Reason, "unsupported value type") {
				t.Fatalf("got %q %q", se.Path, se.Reason)
			}
			if err := Validate(map[string]any{}, tc.pattern); !errors.As(err, &se) {
				t.Fatalf("Validate err = %v, want wrapped *SyntaxError", err)
			}
		})
	}
}

func TestDoesNotMutateInputs(t *testing.T) {
	t.Parallel()
	pat := y(t, `{metadata: {labels: {"app*": "?*", "=(team-*)": "x"}}, spec: {c: [{(name): a}]}}`)
	res := y(t, `{metadata: {labels: {app1: v, team-a: x}}, spec: {c: [{name: a}]}}`)
	before := []string{fmtJSON(t, pat), fmtJSON(t, res)}
	if err := Validate(res, pat); err != nil {
		t.Fatalf("unexpected mismatch: %v", err)
	}
	if after := []string{fmtJSON(t, pat), fmtJSON(t, res)}; after[0] != before[0] || after[1] != before[1] {
		t.Fatalf("inputs mutated: %v -> %v", before, after)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	p, err := Compile(y(t, `{spec: {containers: [{(name): "a*", image: "<2Gi | x*"}], ^(volumes): [{name: v}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	good := y(t, `{spec: {containers: [{name: a1, image: 1Gi}, {name: b}], volumes: [{name: v}]}}`)
	bad := y(t, `{spec: {containers: [{name: a1, image: 3Gi}], volumes: [{name: v}]}}`)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if err := p.Validate(good); err != nil {
					errs <- "good: " + err.Error()
					return
				}
				var pe *Error
				if err := p.Validate(bad); !errors.As(err, &pe) || pe.Path != "/spec/containers/0/image/" {
					errs <- "bad: unexpected result"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
