package admission

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricLabelsBounded: the kind and operation of a request are chosen
// by its sender; unknown ones are counted as "other", so a flood of
// invented kinds adds no time series.
func TestMetricLabelsBounded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(pssSet(t, policy.Enforce)), Registry: reg})
	srv := newTLSServer(t, h)

	const invented = 20
	for i := range invented {
		admit(t, srv, PathValidate, reviewReq{uid: fmt.Sprintf("x-%d", i), kind: fmt.Sprintf("Attack%d", i),
			op: fmt.Sprintf("OP%d", i%3), namespace: "ns", name: "x", object: "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}"})
	}
	admit(t, srv, PathValidate, reviewReq{uid: "p", kind: "Pod", namespace: "ns", name: "p", object: compliantPod})
	admit(t, srv, PathValidate, reviewReq{uid: "d", kind: "Deployment", op: "UPDATE", namespace: "ns", name: "d",
		object: "{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}", oldObject: "{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}"})

	_, text := get(t, srv, PathMetrics)
	series := 0
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "portcullis_admission_requests_total{") {
			series++
			if strings.Contains(line, "Attack") || strings.Contains(line, `operation="OP`) {
				t.Errorf("unbounded label value: %s", line)
			}
		}
	}
	for _, want := range []string{
		`portcullis_admission_requests_total{endpoint="/validate",kind="other",operation="other",result="allowed"} 20`,
		`portcullis_admission_requests_total{endpoint="/validate",kind="Pod",operation="CREATE",result="allowed"} 1`,
		`portcullis_admission_requests_total{endpoint="/validate",kind="Deployment",operation="UPDATE",result="denied"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if series != 3 {
		t.Errorf("%d request series, want 3:\n%s", series, text)
	}
}

func TestLabelAllowlists(t *testing.T) {
	t.Parallel()
	l := newLabels()
	for _, k := range []string{"Pod", "Deployment", "CronJob", "Namespace", "ConfigMap", "ValidatingWebhookConfiguration", "ClusterPolicy", "ClusterImagePolicy"} {
		if bound(l.kinds, k) != k {
			t.Errorf("kind %s mapped to other", k)
		}
	}
	for _, k := range []string{"Widget", "pod", "Pod ", strings.Repeat("A", 300)} {
		if bound(l.kinds, k) != labelOther {
			t.Errorf("kind %q kept", k)
		}
	}
	if bound(l.endpoints, "/validate/../x") != labelOther || bound(l.operations, "create") != labelOther {
		t.Error("unknown endpoint or operation kept")
	}
}
