package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ceReceiver is a real HTTP CloudEvents receiver (binary mode: attributes
// in ce-* headers, data in the body).
type ceReceiver struct {
	mu     sync.Mutex
	events []string // "type source subject policy/rule[ (reason)]"
	// down makes it answer 503 Service Unavailable (and record nothing);
	// attempts counts every request.
	down     atomic.Bool
	attempts atomic.Int64
}

func (r *ceReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.attempts.Add(1)
	body, _ := io.ReadAll(req.Body)
	if r.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var data struct{ Policy, Rule, Reason string }
	_ = json.Unmarshal(body, &data)
	ev := fmt.Sprintf("%s %s %s %s/%s", req.Header.Get("ce-type"), req.Header.Get("ce-source"),
		req.Header.Get("ce-subject"), data.Policy, data.Rule)
	if data.Reason != "" {
		ev += " (" + data.Reason + ")"
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (r *ceReceiver) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// TestBackgroundEvents: a Pod running before an Audit policy is announced
// once as a violation to a real HTTP CloudEvents receiver (down at first:
// retried until it is up, not lost); a restarted
// serve (as after a leader change) does not announce it again; fixing the
// Pod sends exactly one resolution; deleting the policy resolves what
// still failed it with reason policyDeleted.
func TestBackgroundEvents(t *testing.T) {
	env := Start(t, Options{CRDDirectoryPaths: []string{reportCRDs}, Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"apps", "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Create(ctx, pod("web", "apps", "gcr.io/app:1", true, true)); err != nil {
		t.Fatal(err)
	}
	recv := &ceReceiver{}
	sink := httptest.NewServer(recv)
	t.Cleanup(sink.Close)

	run := func() (stop func()) {
		rctx, rcancel := context.WithCancel(ctx)
		_, errc := startServe(rctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
			DNSNames: []string{"127.0.0.1"}, Background: true, EventsSink: sink.URL, ClusterName: "test-cluster"})
		return func() {
			rcancel()
			select {
			case <-errc:
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not stop")
			}
		}
	}
	stop := run()
	// The receiver is down at first: the violation is retried, not lost.
	recv.down.Store(true)
	for _, p := range decodeAll(t, teamLabelPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "three delivery attempts to the receiver that is down", func() (bool, string) {
		return recv.attempts.Load() >= 3, fmt.Sprint(recv.attempts.Load(), " attempts")
	})
	recv.down.Store(false)
	const violation = "dev.portcullis.violation.v1 test-cluster apps/Pod/web require-team/team-label"
	eventually(t, 20*time.Second, "one violation event", func() (bool, string) {
		got := recv.all()
		return len(got) == 1 && got[0] == violation, fmt.Sprint(got)
	})
	eventually(t, 10*time.Second, "the report written", func() (bool, string) {
		got, _ := reportResults(ctx, t, env.Client, "apps")
		return len(got) == 1, fmt.Sprint(got)
	})

	// A new process (a new leader) learns from the reports what was
	// already announced.
	stop()
	stop = run()
	time.Sleep(3 * time.Second)
	if got := recv.all(); len(got) != 1 {
		t.Fatalf("after a restart the receiver got %v, want the first violation only", got)
	}

	fixed := &corev1.Pod{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "web"}, fixed); err != nil {
		t.Fatal(err)
	}
	fixed.Labels = map[string]string{"team": "web"}
	if err := env.Client.Update(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "one resolution event", func() (bool, string) {
		got := recv.all()
		return len(got) == 2 && got[1] == strings.Replace(violation, "violation", "resolution", 1), fmt.Sprint(got)
	})
	time.Sleep(2 * time.Second)
	if got := recv.all(); len(got) != 2 {
		t.Fatalf("events = %v, want exactly one violation and one resolution", got)
	}

	// A second failing Pod, then the policy goes: its violation is
	// resolved because the policy was deleted (no re-evaluation needed).
	if err := env.Client.Create(ctx, pod("api", "apps", "gcr.io/app:1", true, true)); err != nil {
		t.Fatal(err)
	}
	apiViolation := "dev.portcullis.violation.v1 test-cluster apps/Pod/api require-team/team-label"
	eventually(t, 10*time.Second, "a violation for the second Pod", func() (bool, string) {
		got := recv.all()
		return len(got) == 3 && got[2] == apiViolation, fmt.Sprint(got)
	})
	for _, p := range decodeAll(t, teamLabelPolicy) {
		if err := env.Client.Delete(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "a resolution for the deleted policy", func() (bool, string) {
		got := recv.all()
		return len(got) == 4 && got[3] == strings.Replace(apiViolation, "violation", "resolution", 1)+" (policyDeleted)", fmt.Sprint(got)
	})
	eventually(t, 10*time.Second, "the report without the policy", func() (bool, string) {
		got, _ := reportResults(ctx, t, env.Client, "apps")
		return len(got) == 0, fmt.Sprint(got)
	})
	time.Sleep(2 * time.Second)
	if got := recv.all(); len(got) != 4 {
		t.Fatalf("events = %v, want no more after the policy's deletion", got)
	}
	stop()
}
