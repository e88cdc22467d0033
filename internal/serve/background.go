package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	"github.com/portcullis/portcullis/internal/background"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/policysource"
	"github.com/portcullis/portcullis/internal/sink/events"
	"github.com/portcullis/portcullis/internal/sink/policyreport"
	"github.com/portcullis/portcullis/internal/store"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// addBackground adds the continuous-verification controller (leader only)
// when o.Background is set; the report CRDs must be served. With a
// findings store (o.Store or o.DataDir) it opens the store, whose close
// function the caller runs after the manager stops.
func addBackground(ctx context.Context, cfg *rest.Config, mgr manager.Manager, o Options, watcher *policysource.Watcher, eng *engine.Engine, direct client.Client) (closeStore func(), err error) {
	closeStore = func() {}
	storeOn := o.Store != "" || o.DataDir != ""
	if !o.Background {
		if storeOn {
			o.Logger.Warn("the findings store records what the background controller sees; it is off with --background=false", "component", "store")
		}
		return closeStore, nil
	}
	if err := requireReportCRDs(cfg); err != nil {
		if o.BackgroundOptional {
			o.Logger.Warn("continuous verification is off: "+err.Error(), "component", "background")
			return closeStore, nil
		}
		return closeStore, err
	}
	name := o.ClusterName
	if name == "" {
		name = "in-cluster"
	}
	var observer background.Observer
	var observers fanOut
	if o.EventsSink != "" {
		sender, err := events.New(events.Options{Sink: o.EventsSink, Source: name, Registry: o.Registry, Logger: o.Logger})
		if err != nil {
			return closeStore, fmt.Errorf("serve: --events-sink: %w", err)
		}
		if err := mgr.Add(leaderOnly{sender}); err != nil {
			return closeStore, err
		}
		observers = append(observers, events.Notifier{Tracker: events.NewTracker(), Sender: sender})
	}
	var recorder *store.Recorder
	var st store.Store
	if storeOn {
		st, err = store.Open(ctx, store.Config{URL: o.Store, DataDir: o.DataDir})
		if err != nil {
			return closeStore, fmt.Errorf("serve: findings store: %w", err)
		}
		closeStore = func() {
			if err := st.Close(); err != nil {
				o.Logger.Warn("close the findings store", "component", "store", "error", err)
			}
		}
		w, err := store.NewWriter(st, store.WriterOptions{Retention: o.Retention, Registry: o.Registry, Logger: o.Logger})
		if err != nil {
			closeStore()
			return func() {}, err
		}
		if err := mgr.Add(w); err != nil { // leader only, like the controller
			closeStore()
			return func() {}, err
		}
		recorder = store.NewRecorder(name, w)
		if err := mgr.Add(leaderOnly{manager.RunnableFunc(func(ctx context.Context) error {
			return recorder.FollowPolicies(ctx, watcher)
		})}); err != nil {
			closeStore()
			return func() {}, err
		}
		observers = append(observers, recorder)
	}
	switch len(observers) {
	case 0:
	case 1:
		observer = observers[0]
	default:
		observer = observers
	}
	c, err := background.New(background.Options{
		Cache:  mgr.GetCache(),
		Mapper: mgr.GetRESTMapper(),
		Scheme: mgr.GetScheme(),
		// The same informer cache admission reads for configMap and
		// apiCall context entries (clusterstore.go).
		Cluster:  newClusterStore(mgr.GetCache(), mgr.GetAPIReader(), mgr.GetRESTMapper(), mgr.GetScheme()),
		Client:   direct,
		Policies: watcher,
		Engine:   eng,
		Interval: o.BackgroundInterval,
		Reports:  policyreport.Options{ReportPasses: o.ReportPasses},
		// The controller is mostly idle between bursts (the first
		// evaluation of everything, policy changes, resyncs): what a
		// burst used goes back to the OS.
		ReturnMemory: true,
		AfterBurst:   afterBurst(o),
		Observer:     observer,
		Registry:     o.Registry,
		Logger:       o.Logger,
	})
	if err != nil {
		closeStore()
		return func() {}, err
	}
	if recorder == nil {
		return closeStore, mgr.Add(c)
	}
	// On the leader, before the controller evaluates anything, the
	// recorder resumes from the store's current failures.
	err = mgr.Add(leaderOnly{manager.RunnableFunc(func(ctx context.Context) error {
		start := time.Now()
		n, err := recorder.Resume(ctx, st)
		if err != nil {
			return fmt.Errorf("serve: resume from the findings store: %w", err)
		}
		o.Logger.Info("resumed from the findings store", "component", "store", "failingResources", n, "took", time.Since(start).String())
		return c.Start(ctx)
	})})
	if err != nil {
		closeStore()
		return func() {}, err
	}
	return closeStore, nil
}

// fanOut hands compliance changes to several observers in turn.
type fanOut []background.Observer

func (f fanOut) Seed(uid string, failing []engine.Result) {
	for _, o := range f {
		o.Seed(uid, failing)
	}
}

func (f fanOut) Changed(uid string, object map[string]any, results []engine.Result, now time.Time) {
	for _, o := range f {
		o.Changed(uid, object, results, now)
	}
}

func (f fanOut) Deleted(uid string, resource engine.Resource, now time.Time) {
	for _, o := range f {
		o.Deleted(uid, resource, now)
	}
}

func (f fanOut) PolicyDeleted(kind, policy string, now time.Time) {
	for _, o := range f {
		o.PolicyDeleted(kind, policy, now)
	}
}

// requireReportCRDs fails with a clear message when the wgpolicyk8s.io
// report CRDs are not installed.
func requireReportCRDs(cfg *rest.Config) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("serve: discovery: %w", err)
	}
	res, err := dc.ServerResourcesForGroupVersion(v1alpha2.APIVersion)
	if err == nil {
		found := map[string]bool{}
		for _, r := range res.APIResources {
			found[r.Kind] = true
		}
		if found[v1alpha2.KindPolicyReport] && found[v1alpha2.KindClusterPolicyReport] {
			return nil
		}
	}
	return fmt.Errorf("serve: the background controller writes %s PolicyReports and ClusterPolicyReports, but their CRDs are not installed "+
		"(the Helm chart installs them from deploy/helm/portcullis/crds; or run with --background=false)", v1alpha2.APIVersion)
}

// afterBurst is what the background controller runs once a burst's
// memory went back to the OS: with Options.ReleaseExecutablePages, the
// executable's pages the burst mapped are released too.
func afterBurst(o Options) func() {
	if !o.ReleaseExecutablePages {
		return nil
	}
	return func() { releaseExecutablePages(o.Logger, "after a burst of background evaluations") }
}
