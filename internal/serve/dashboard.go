package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/admission"
	"github.com/portcullis/portcullis/internal/dashboard"
	"github.com/portcullis/portcullis/internal/store"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// dashboardTLS is the dashboard's serving certificate: the webhook's
// (its Secret's loader, or its files), else one generated and rotated
// like the webhook's for dnsNames.
type dashboardTLS struct {
	getCertificate    func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	certFile, keyFile string
	dnsNames          []string
}

// addDashboard opens the findings store for the dashboard and adds its
// HTTPS server (every replica) to the manager. It returns the bound
// address and a function that closes the store, to run after the manager
// stops.
func addDashboard(ctx context.Context, mgr manager.Manager, o Options, cs kubernetes.Interface, t dashboardTLS) (string, func(), error) {
	if o.Store == "" && o.DataDir == "" {
		return "", nil, errors.New("serve: --dashboard-addr needs the findings store (--store or --data-dir)")
	}
	st, err := store.Open(ctx, store.Config{URL: o.Store, DataDir: o.DataDir})
	if err != nil {
		return "", nil, fmt.Errorf("serve: dashboard: findings store: %w", err)
	}
	closeStore := func() {
		if err := st.Close(); err != nil {
			o.Logger.Warn("close the dashboard's findings store", "component", "dashboard", "error", err)
		}
	}
	cluster := o.ClusterName
	if cluster == "" {
		cluster = "in-cluster" // as the background controller records it
	}
	auth := &dashboard.Kubernetes{Client: cs, Cluster: cluster,
		Namespaces: func(ctx context.Context) ([]string, error) { return st.Namespaces(ctx, []string{cluster}) }}
	h, err := dashboard.New(dashboard.Options{Store: st, Auth: auth, Logger: o.Logger.With("component", "dashboard")})
	if err != nil {
		closeStore()
		return "", nil, err
	}
	so := admission.ServerOptions{Addr: o.DashboardAddr, GetCertificate: t.getCertificate, CertFile: t.certFile, KeyFile: t.keyFile,
		DNSNames: t.dnsNames, Logger: o.Logger.With("component", "dashboard")}
	if t.getCertificate == nil && t.certFile == "" && len(t.dnsNames) == 0 {
		so.DNSNames = []string{"localhost", "127.0.0.1"}
	}
	srv, err := admission.NewServer(h, so)
	if err != nil {
		closeStore()
		return "", nil, fmt.Errorf("serve: dashboard: %w", err)
	}
	if err := srv.Listen(); err != nil {
		closeStore()
		return "", nil, fmt.Errorf("serve: dashboard: %w", err)
	}
	if err := mgr.Add(everyReplica{manager.RunnableFunc(srv.Run)}); err != nil {
		closeStore()
		return "", nil, err
	}
	return srv.Addr().String(), closeStore, nil
}

// dashboardHosts are the names a generated dashboard certificate covers:
// the webhook Service's and DNSNames.
func dashboardHosts(o Options) []string {
	hosts := append([]string{}, o.DNSNames...)
	if o.ServiceName != "" && o.Namespace != "" {
		svc, ns := o.ServiceName, o.Namespace
		hosts = append(hosts, svc, svc+"."+ns, svc+"."+ns+".svc", svc+"."+ns+".svc.cluster.local")
	}
	return hosts
}
