//go:build !offline

package cli

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/portcullis/portcullis/internal/dashboard"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/spf13/cobra"
)

// DefaultDashboardAddr is where `portcullis dashboard` listens by default.
const DefaultDashboardAddr = "127.0.0.1:8443"

func newDashboardCommand() *cobra.Command {
	var (
		storeURL, dataDir, addr string
		certFile, keyFile       string
		tokenFile               string
		insecureHTTP            bool
	)
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the findings dashboard of a store",
		Long: `Serve the web dashboard and its JSON API (/api/v1/...) over a findings store:
posture by cluster, namespace, policy, control and severity; violations with the failing
field, message and remediation; a resource's history; trends; images and their verification
status; scans recorded with 'portcullis scan PATH --store URL'.

Callers present the token of --dashboard-token-file: as "Authorization: Bearer TOKEN", or
in the browser's login form (kept in an HttpOnly, Secure, SameSite=Strict cookie). The file is
read again when it changes. There is no anonymous access.

HTTPS with --tls-cert-file and --tls-key-file (reloaded when they change), else with a
generated self-signed certificate whose SHA-256 fingerprint is printed. Plain HTTP only with
--insecure-http, and only on a loopback address.`,
		Example: `  portcullis scan ./manifests --store findings.db
  head -c 32 /dev/urandom | base64 > token
  portcullis dashboard --store findings.db --dashboard-token-file token --addr 127.0.0.1:8443`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tokenFile == "" {
				return withCode(ExitInvalid, errors.New("--dashboard-token-file is required: the dashboard allows no anonymous access"))
			}
			if storeURL == "" && dataDir == "" {
				return withCode(ExitInvalid, errors.New("give --store (postgres://..., sqlite://PATH or a file) or --data-dir"))
			}
			if (certFile == "") != (keyFile == "") {
				return withCode(ExitInvalid, errors.New("--tls-cert-file and --tls-key-file go together"))
			}
			auth, err := dashboard.NewTokenFile(tokenFile)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			ctx := cmd.Context()
			st, err := store.Open(ctx, store.Config{URL: storeURL, DataDir: dataDir})
			if err != nil {
				return withCode(ExitInvalid, fmt.Errorf("--store: %w", err))
			}
			defer st.Close()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			h, err := dashboard.New(dashboard.Options{Store: st, Auth: auth, Logger: log})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			err = dashboard.Serve(ctx, h, dashboard.ServeOptions{Addr: addr, CertFile: certFile, KeyFile: keyFile,
				InsecureHTTP: insecureHTTP, Logger: log,
				Listening: func(url, fingerprint string) {
					fmt.Fprintf(out, "dashboard: %s\n", url)
					if fingerprint != "" {
						fmt.Fprintf(out, "self-signed certificate, SHA-256 fingerprint %s\n", fingerprint)
					}
				}})
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&storeURL, "store", "", "findings store: postgres://USER:PASSWORD@HOST/DB, or a SQLite file (sqlite://PATH or a path)")
	f.StringVar(&dataDir, "data-dir", "", "directory of the embedded SQLite findings store ("+store.DefaultFile+"), when --store is not set")
	f.StringVar(&addr, "addr", DefaultDashboardAddr, "HOST:PORT to listen on")
	f.StringVar(&certFile, "tls-cert-file", "", "serving certificate (PEM); reloaded when it changes (default: a generated self-signed certificate)")
	f.StringVar(&keyFile, "tls-key-file", "", "serving key (PEM)")
	f.StringVar(&tokenFile, "dashboard-token-file", "", "file holding the token callers must present (required; re-read when it changes)")
	f.BoolVar(&insecureHTTP, "insecure-http", false, "serve plain HTTP (only on a loopback --addr)")
	return cmd
}
