package serve

import (
	"context"
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/admission"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// everyReplica runs a Runnable on every replica, leader or not.
type everyReplica struct{ manager.Runnable }

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (everyReplica) NeedLeaderElection() bool { return false }

// leaderOnly runs a Runnable only on the elected leader (on every process
// when leader election is off): the work that must have a single writer.
type leaderOnly struct{ manager.Runnable }

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (leaderOnly) NeedLeaderElection() bool { return true }

// webhookServer makes admission.Server the manager's webhook server: it
// runs on every replica, starts before the caches sync (so probes and
// early requests get answers, 503 until the policies are loaded) and
// stops last, after the reconcilers, letting in-flight reviews finish.
// It keeps our net/http server (listening on :0 in tests, rotating or
// reloading its certificate) rather than controller-runtime's.
type webhookServer struct {
	srv       *admission.Server
	mux       *http.ServeMux
	certReady func() bool
}

var _ webhook.Server = (*webhookServer)(nil)

// NeedLeaderElection implements webhook.Server: every replica serves.
func (*webhookServer) NeedLeaderElection() bool { return false }

// Register implements webhook.Server.
func (w *webhookServer) Register(path string, hook http.Handler) { w.mux.Handle(path, hook) }

// Start implements webhook.Server.
func (w *webhookServer) Start(ctx context.Context) error { return w.srv.Run(ctx) }

// StartedChecker implements webhook.Server: the server listens and has a
// certificate to serve.
func (w *webhookServer) StartedChecker() healthz.Checker {
	return func(*http.Request) error {
		if w.srv.Addr() == nil {
			return errors.New("webhook server not listening")
		}
		if !w.certReady() {
			return errors.New("no serving certificate yet")
		}
		return nil
	}
}

// WebhookMux implements webhook.Server.
func (w *webhookServer) WebhookMux() *http.ServeMux { return w.mux }

// check is one named health or readiness condition. A warning check
// does not fail the probe: its error is listed after "ok".
type check struct {
	name    string
	fn      func() error
	warning bool
}

// probe serves /healthz or /readyz: 200 "ok" when every check passes
// (followed by a "warning: ..." line per failing warning check), else 503
// naming each failed check, as the chart's probes expect.
type probe []check

func (p probe) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	var msg, warnings string
	for _, c := range p {
		if err := c.fn(); err != nil {
			if c.warning {
				warnings += "\nwarning: " + c.name + ": " + err.Error()
				continue
			}
			msg += "not ready: " + c.name + ": " + err.Error() + "\n"
		}
	}
	if msg != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(msg))
		return
	}
	_, _ = w.Write([]byte("ok" + warnings))
}
