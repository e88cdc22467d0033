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
	events []string // "type source subject policy/rule"
}

func (r *ceReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var data struct{ Policy, Rule string }
	_ = json.Unmarshal(body, &data)
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf("%s %s %s %s/%s", req.Header.Get("ce-type"), req.Header.Get("ce-source"),
		req.Header.Get("ce-subject"), data.Policy, data.Rule))
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (r *ceReceiver) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// TestBackgroundEvents: a Pod running before an Audit policy is announced
// once as a violation to a real HTTP CloudEvents receiver; a restarted
// serve (as after a leader change) does not announce it again; fixing the
// Pod sends exactly one resolution.
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
		ready := make(chan serve.Running, 1)
		errc := make(chan error, 1)
		go func() {
			errc <- serve.Run(rctx, env.Config, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
				DNSNames: []string{"127.0.0.1"}, Background: true, EventsSink: sink.URL, ClusterName: "test-cluster"},
				func(r serve.Running) { ready <- r })
		}()
		select {
		case <-ready:
		case err := <-errc:
			t.Fatalf("serve: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not start in 60 s")
		}
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
	for _, p := range decodeAll(t, teamLabelPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	const violation = "dev.portcullis.violation.v1 test-cluster apps/Pod/web require-team/team-label"
	eventually(t, 10*time.Second, "one violation event", func() (bool, string) {
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
	stop()
}
