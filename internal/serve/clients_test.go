package serve

import (
	"testing"

	"k8s.io/client-go/rest"
)

// TestRateLimits: serve's API clients do not inherit client-go's 5 QPS /
// burst 10, which queued admissions behind their lookups.
func TestRateLimits(t *testing.T) {
	in := &rest.Config{Host: "https://example"}
	got := withRateLimits(in, Options{})
	if got.QPS != DefaultKubeAPIQPS || got.Burst != DefaultKubeAPIBurst {
		t.Errorf("defaults: QPS %v burst %d, want %v / %d", got.QPS, got.Burst, float32(DefaultKubeAPIQPS), DefaultKubeAPIBurst)
	}
	if in.QPS != 0 || in.Burst != 0 {
		t.Error("the caller's config was modified")
	}
	got = withRateLimits(in, Options{KubeAPIQPS: 7, KubeAPIBurst: 9})
	if got.QPS != 7 || got.Burst != 9 {
		t.Errorf("explicit: QPS %v burst %d, want 7 / 9", got.QPS, got.Burst)
	}
	if got = withRateLimits(in, Options{KubeAPIQPS: -1}); got.QPS != -1 {
		t.Errorf("unlimited: QPS %v, want -1", got.QPS)
	}
}
