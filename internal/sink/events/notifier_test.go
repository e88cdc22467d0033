package events

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func podObject() map[string]any {
	var pod map[string]any
	err := json.Unmarshal([]byte(`{
	  "apiVersion": "v1", "kind": "Pod",
	  "metadata": {"name": "web", "namespace": "team-a", "uid": "u1"},
	  "spec": {
	    "initContainers": [{"name": "init", "image": "busybox@`+digestB+`"}],
	    "containers": [{"name": "web", "image": "ghcr.io/acme/web:1.2"}, {"name": "side", "image": "envoy:1"}, "junk"]
	  },
	  "status": {"containerStatuses": [{"name": "web", "image": "ghcr.io/acme/web:1.2", "imageID": "ghcr.io/acme/web@`+digestA+`"}]}
	}`), &pod)
	if err != nil {
		panic(err)
	}
	return pod
}

func TestImages(t *testing.T) {
	results := []engine.Result{
		{Image: "envoy:1", Digest: digestB},
		{Image: "ghcr.io/acme/web:1.2", Digest: digestB}, // the running digest wins
		{Image: "only-in-results:3"},
		{},
	}
	got := fmt.Sprint(Images(podObject(), results))
	want := fmt.Sprint([]Image{
		{Ref: "busybox@" + digestB, Digest: digestB},
		{Ref: "ghcr.io/acme/web:1.2", Digest: digestA},
		{Ref: "envoy:1", Digest: digestB},
		{Ref: "only-in-results:3"},
	})
	if got != want {
		t.Errorf("Images\n got %s\nwant %s", got, want)
	}
	deploy := map[string]any{"kind": "Deployment", "spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"containers": []any{map[string]any{"name": "x", "image": "nginx:1"}}}}}}
	if got := fmt.Sprint(Images(deploy, nil)); got != "[{nginx:1 }]" {
		t.Errorf("Deployment images %s", got)
	}
	if got := Images(nil, nil); got != nil {
		t.Errorf("no object, no results: %v", got)
	}
}

// TestNotifier walks one Pod through the Notifier to a real receiver:
// violation, a changed-but-still-failing evaluation (nothing), fixed
// (resolution), failing again, deleted (resolution).
func TestNotifier(t *testing.T) {
	rc := &receiver{}
	ts := newSender(t, Options{Sink: startReceiver(t, rc), Workers: 1})
	ts.start(t)
	n := Notifier{Tracker: NewTracker(), Sender: ts.Sender}
	obj := podObject()
	fail := res("require-signed", "check-image", engine.StatusFail)
	pass := res("require-signed", "check-image", engine.StatusPass)
	other := res("other", "r", engine.StatusPass)

	n.Seed("u0", []engine.Result{fail})
	n.Changed("u0", obj, []engine.Result{fail}, t0) // seeded: nothing sent
	n.Changed("u1", obj, []engine.Result{fail}, t0)
	n.Changed("u1", obj, []engine.Result{fail, other}, t0.Add(1))
	n.Changed("u1", obj, []engine.Result{pass, other}, t0.Add(2))
	n.Changed("u1", obj, []engine.Result{fail}, t0.Add(3))
	n.Deleted("u1", pod, t0.Add(4))
	n.Deleted("u1", pod, t0.Add(5)) // already gone: nothing
	n.Changed("u2", obj, []engine.Result{fail}, t0.Add(6))
	n.PolicyDeleted(engine.KindClusterPolicy, "require-signed", t0.Add(7))
	eventually(t, "7 events", func() bool { return ts.metric(t, "sent") == 7 })

	_, got := rc.snapshot()
	var seen []string
	for _, ev := range got {
		var d Data
		if err := json.Unmarshal(ev.Data(), &d); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, fmt.Sprintf("%s %s %s %s", ev.Type(), d.Resource.UID, d.Status, d.Reason))
		if len(d.Images) != 3 || d.Images[1].Digest != digestA {
			t.Errorf("event images %+v", d.Images)
		}
	}
	want := []string{
		TypeViolation + " u1 fail ",
		TypeResolution + " u1 pass ",
		TypeViolation + " u1 fail ",
		TypeResolution + " u1 skip " + ReasonResourceDeleted,
		TypeViolation + " u2 fail ",
		// The seeded u0 resolves too (UID order), with the images its
		// last evaluation recorded.
		TypeResolution + " u0 skip " + ReasonPolicyDeleted,
		TypeResolution + " u2 skip " + ReasonPolicyDeleted,
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("events\n got %q\nwant %q", seen, want)
	}
}
