package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	"github.com/portcullis/portcullis/internal/store"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestBackgroundStore: serve with --data-dir records what the background
// controller sees in the SQLite findings store, beside the CloudEvents
// sink: the policy, the Pod's failing result and one violation; a
// restarted serve resumes from the store (no second violation); fixing
// the Pod records one resolution.
func TestBackgroundStore(t *testing.T) {
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
	dataDir := t.TempDir()

	run := func() (stop func()) {
		rctx, rcancel := context.WithCancel(ctx)
		_, errc := startServe(rctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
			DNSNames: []string{"127.0.0.1"}, Background: true, EventsSink: sink.URL, ClusterName: "test-cluster",
			DataDir: dataDir})
		return func() {
			rcancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not stop")
			}
		}
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(dataDir, store.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	history := func() []string {
		h, err := st.History(ctx, store.HistoryQuery{Cluster: "test-cluster", Namespace: "apps", Kind: "Pod", Name: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			return nil
		}
		var out []string
		for _, tr := range h.Transitions {
			out = append(out, tr.Type+" "+tr.Policy+"/"+tr.Rule)
		}
		return out
	}

	stop := run()
	for _, p := range decodeAll(t, teamLabelPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 15*time.Second, "the violation recorded in the store", func() (bool, string) {
		got := history()
		return len(got) == 1 && got[0] == "violation require-team/team-label", fmt.Sprint(got)
	})
	vs, err := st.Violations(ctx, store.ViolationQuery{Filter: store.Filter{Clusters: []string{"test-cluster"}, Namespaces: []string{"apps"}}})
	if err != nil || len(vs) != 1 || vs[0].Resource.Name != "web" || vs[0].Message == "" {
		t.Fatalf("violations in the store: %+v %v", vs, err)
	}
	posture, err := st.Posture(ctx, store.PostureQuery{By: store.ByPolicy})
	if err != nil || len(posture) != 1 || posture[0].Key != "require-team" {
		t.Fatalf("posture by policy: %+v %v", posture, err)
	}
	eventually(t, 10*time.Second, "one violation event", func() (bool, string) {
		return len(recv.all()) == 1, fmt.Sprint(recv.all())
	})
	eventually(t, 10*time.Second, "the report written", func() (bool, string) {
		got, _ := reportResults(ctx, t, env.Client, "apps")
		return len(got) == 1, fmt.Sprint(got)
	})

	stop()
	stop = run()
	time.Sleep(3 * time.Second)
	if got := history(); len(got) != 1 {
		t.Fatalf("after a restart the store holds %v, want the first violation only", got)
	}

	fixed := &corev1.Pod{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "web"}, fixed); err != nil {
		t.Fatal(err)
	}
	fixed.Labels = map[string]string{"team": "web"}
	if err := env.Client.Update(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "one resolution recorded", func() (bool, string) {
		got := history()
		return len(got) == 2 && got[0] == "resolution require-team/team-label", fmt.Sprint(got)
	})
	stop()
	if got := history(); len(got) != 2 {
		t.Fatalf("transitions %v, want one violation and one resolution", got)
	}
	if got := recv.all(); len(got) != 2 {
		t.Fatalf("events %v: the store beside the events sink must not change what it sends", got)
	}
}
