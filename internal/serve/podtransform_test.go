package serve

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// decodePod decodes a Pod as an informer gets it from the API server.
func decodePod(t testing.TB, name, cpu, memory string, labels string) *corev1.Pod {
	return decodePodTolerating(t, name, cpu, memory, labels, 300)
}

// decodePodTolerating is decodePod with seconds as the first toleration's
// tolerationSeconds.
func decodePodTolerating(t testing.TB, name, cpu, memory string, labels string, seconds int) *corev1.Pod {
	t.Helper()
	doc := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":"team","uid":"u-%s",
	"labels":%s,"managedFields":[{"manager":"kubectl","operation":"Apply","fieldsV1":{"f:spec":{}}}]},
	"spec":{"containers":[{"name":"app","image":"gcr.io/app:1",
	"resources":{"limits":{"cpu":%q,"memory":%q},"requests":{"cpu":%q,"memory":%q}}}],
	"initContainers":[{"name":"init","image":"busybox","resources":{"limits":{"cpu":%q}}}],
	"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":%d},
	{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}}`,
		name, name, labels, cpu, memory, cpu, memory, cpu, seconds)
	p := &corev1.Pod{}
	if err := json.Unmarshal([]byte(doc), p); err != nil {
		t.Fatal(err)
	}
	return p
}

func transformed(t testing.TB, tf func(any) (any, error), p *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := tf(p)
	if err != nil {
		t.Fatal(err)
	}
	return out.(*corev1.Pod)
}

func sameMap[M ~map[K]V, K comparable, V any](a, b M) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestCacheTransformSharesPodParts: managedFields are dropped; Pods with
// equal resource lists, labels and tolerations hold one copy of them, Pods with
// different ones their own; each Pod encodes exactly as it did (lists are
// shared only when they encode the same).
func TestCacheTransformSharesPodParts(t *testing.T) {
	tf := cacheTransform()
	labels := `{"app":"web","pod-template-hash":"abc"}`
	inputs := []*corev1.Pod{
		decodePod(t, "a", "100m", "64Mi", labels),
		decodePod(t, "b", "100m", "64Mi", labels),
		decodePod(t, "c", "0.1", "64Mi", `{"app":"web","pod-template-hash":"def"}`),
		decodePodTolerating(t, "d", "200m", "67108864", labels, 60),
	}
	var want [][]byte
	for _, p := range inputs {
		q := p.DeepCopy()
		q.ManagedFields = nil
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
	}
	var pods []*corev1.Pod
	for _, p := range inputs {
		pods = append(pods, transformed(t, tf, p))
	}
	for i, p := range pods {
		if p.ManagedFields != nil {
			t.Errorf("%s kept its managedFields", p.Name)
		}
		got, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want[i]) {
			t.Errorf("%s encodes as\n%s\nwant\n%s", p.Name, got, want[i])
		}
	}
	a, b, c, d := pods[0], pods[1], pods[2], pods[3]
	if !sameMap(a.Spec.Containers[0].Resources.Limits, b.Spec.Containers[0].Resources.Limits) ||
		!sameMap(a.Spec.Containers[0].Resources.Requests, b.Spec.Containers[0].Resources.Requests) ||
		!sameMap(a.Spec.Containers[0].Resources.Limits, a.Spec.Containers[0].Resources.Requests) {
		t.Error("equal resource lists are not shared")
	}
	if !sameMap(a.Spec.InitContainers[0].Resources.Limits, b.Spec.InitContainers[0].Resources.Limits) {
		t.Error("equal init container resource lists are not shared")
	}
	if &a.Spec.Tolerations[0] != &b.Spec.Tolerations[0] || &a.Spec.Tolerations[0] != &c.Spec.Tolerations[0] {
		t.Error("equal tolerations are not shared")
	}
	if &a.Spec.Tolerations[0] == &d.Spec.Tolerations[0] {
		t.Error("tolerations with other seconds are shared")
	}
	if !sameMap(a.Labels, b.Labels) || !sameMap(a.Labels, d.Labels) {
		t.Error("equal labels are not shared")
	}
	if sameMap(a.Labels, c.Labels) {
		t.Error("different labels are shared")
	}
	// 0.1 and 100m encode as 100m; 67108864 stays 67108864, not 64Mi.
	if !sameMap(a.Spec.Containers[0].Resources.Limits, c.Spec.Containers[0].Resources.Limits) {
		t.Error("resource lists that encode the same are not shared")
	}
	if sameMap(a.Spec.Containers[0].Resources.Limits, d.Spec.Containers[0].Resources.Limits) {
		t.Error("resource lists that encode differently are shared")
	}
}

// TestCacheTransformBounded: past maxShared distinct lists, new ones are
// not kept (and the Pods still hold theirs).
func TestCacheTransformBounded(t *testing.T) {
	s := newSharedParts()
	for i := range maxShared + 10 {
		p := decodePod(t, fmt.Sprint(i), fmt.Sprintf("%dm", i+1), "64Mi", fmt.Sprintf(`{"n":"%d"}`, i))
		s.pod(p)
		if p.Spec.Containers[0].Resources.Limits.Cpu().MilliValue() != int64(i+1) || p.Labels["n"] != fmt.Sprint(i) {
			t.Fatalf("pod %d lost its own values", i)
		}
	}
	if len(s.resources) != maxShared || len(s.labels) != maxShared || len(s.tolerate) != 1 {
		t.Errorf("kept %d resource lists, %d label sets and %d tolerations, want %d, %d and 1", len(s.resources), len(s.labels), len(s.tolerate), maxShared, maxShared)
	}
}

// TestCacheTransformMemory: 2,000 Pods of one ReplicaSet (one resource
// list, one label set) hold less memory transformed.
func TestCacheTransformMemory(t *testing.T) {
	const n = 2000
	retained := func(tf func(any) (any, error)) uint64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		pods := make([]*corev1.Pod, n)
		for i := range pods {
			pods[i] = transformed(t, tf, decodePod(t, fmt.Sprint(i), "100m", "64Mi", `{"app":"web","pod-template-hash":"abc"}`))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(pods)
		return after.HeapAlloc - before.HeapAlloc
	}
	strip := func(o any) (any, error) { o.(*corev1.Pod).ManagedFields = nil; return o, nil }
	plain, shared := retained(strip), retained(cacheTransform())
	t.Logf("%d Pods: %d bytes each without sharing, %d with", n, plain/n, shared/n)
	if shared > plain*3/4 {
		t.Errorf("shared parts saved too little: %d bytes per Pod, %d without", shared/n, plain/n)
	}
}
