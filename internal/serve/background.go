package serve

import (
	"fmt"

	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	"github.com/portcullis/portcullis/internal/background"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/policysource"
	"github.com/portcullis/portcullis/internal/sink/events"
	"github.com/portcullis/portcullis/internal/sink/policyreport"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// addBackground adds the continuous-verification controller (leader only)
// when o.Background is set; the report CRDs must be served.
func addBackground(cfg *rest.Config, mgr manager.Manager, o Options, watcher *policysource.Watcher, eng *engine.Engine, direct client.Client) error {
	if !o.Background {
		return nil
	}
	if err := requireReportCRDs(cfg); err != nil {
		if o.BackgroundOptional {
			o.Logger.Warn("continuous verification is off: "+err.Error(), "component", "background")
			return nil
		}
		return err
	}
	var observer background.Observer
	if o.EventsSink != "" {
		name := o.ClusterName
		if name == "" {
			name = "in-cluster"
		}
		sender, err := events.New(events.Options{Sink: o.EventsSink, Source: name, Registry: o.Registry, Logger: o.Logger})
		if err != nil {
			return fmt.Errorf("serve: --events-sink: %w", err)
		}
		if err := mgr.Add(leaderOnly{sender}); err != nil {
			return err
		}
		observer = events.Notifier{Tracker: events.NewTracker(), Sender: sender}
	}
	c, err := background.New(background.Options{
		Cache:    mgr.GetCache(),
		Mapper:   mgr.GetRESTMapper(),
		Scheme:   mgr.GetScheme(),
		Client:   direct,
		Policies: watcher,
		Engine:   eng,
		Interval: o.BackgroundInterval,
		Reports:  policyreport.Options{ReportPasses: o.ReportPasses},
		Observer: observer,
		Registry: o.Registry,
		Logger:   o.Logger,
	})
	if err != nil {
		return err
	}
	return mgr.Add(c)
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
