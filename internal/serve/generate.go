package serve

import (
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/generate"
	"github.com/portcullis/portcullis/internal/policysource"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// addGenerate adds the generate controller (leader only) when
// o.Generate is set: it creates and keeps the objects of Kyverno generate
// rules and GeneratingPolicies (internal/generate).
func addGenerate(mgr manager.Manager, o Options, watcher *policysource.Watcher, eng *engine.Engine, direct client.Client) error {
	if !o.Generate {
		return nil
	}
	c, err := generate.NewController(generate.Options{
		Cache:    mgr.GetCache(),
		Mapper:   mgr.GetRESTMapper(),
		Scheme:   mgr.GetScheme(),
		Client:   direct,
		Reader:   mgr.GetAPIReader(),
		Policies: watcher,
		Engine:   eng,
		Logger:   o.Logger,
	})
	if err != nil {
		return err
	}
	return mgr.Add(c)
}
