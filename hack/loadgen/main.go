// Command loadgen sends admission.k8s.io/v1 AdmissionReviews to a webhook
// on the loopback interface at a fixed rate and reports the achieved rate,
// latency percentiles and errors.
//
// It is open-loop: request i is scheduled at start + i/rate whatever
// happened to the earlier ones and handed to a pool of workers through a
// queue; its latency is measured from that hand-off, so a slow server
// shows up as latency (once every worker is busy, as time spent queued),
// not as a lower offered rate. The service time (from the actual send) is
// reported too, and so is the scheduler's own lag behind the schedule
// (Go timers wake with about 1 ms granularity; requests that fall due
// meanwhile are handed off together when it wakes).
//
// Usage:
//
//	go run ./hack/admission-bench -ca-out /tmp/portcullis-ca.crt &
//	go run ./hack/loadgen -url 'https://127.0.0.1:8443/validate?timeout=10s' \
//	    -ca /tmp/portcullis-ca.crt -rate 1000 -duration 30s -concurrency 64
//
// By default it calls the webhook as the API server calls one behind a
// Service: ALPN offers only HTTP/1.1, connections are kept alive and at
// most 25 idle ones are kept (client-go's transport defaults), so a burst
// opens more and closes the extra ones afterwards. -http2 offers HTTP/2 as
// well, as the API server does for a webhook URL on localhost: the server
// picks, and the report names the protocol the responses came in.
//
// Without -payload it sends a realistic Pod CREATE review (a ReplicaSet's
// pod, about 5 KB, compliant with every Pod Security Standards control).
// Runs are bounded: at most 10 minutes, 50,000 requests/s and 10 million
// requests, loopback targets only.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of one run.
const (
	maxDuration    = 10 * time.Minute
	maxRate        = 50000
	maxRequests    = 10_000_000
	maxConcurrency = 4096
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
}

type config struct {
	url         string
	rate        float64
	duration    time.Duration
	concurrency int
	insecure    bool
	caFile      string
	payload     string
	http2       bool
	idleConns   int
	warmup      int
	timeout     time.Duration
}

func run() error {
	var c config
	flag.StringVar(&c.url, "url", "https://127.0.0.1:8443/validate?timeout=10s", "webhook URL (loopback host only)")
	flag.Float64Var(&c.rate, "rate", 1000, "requests per second (open loop)")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "how long to send")
	flag.IntVar(&c.concurrency, "concurrency", 64, "workers sending requests (connections with HTTP/1.1)")
	flag.BoolVar(&c.insecure, "insecure", false, "skip verifying the server certificate")
	flag.StringVar(&c.caFile, "ca", "", "PEM CA bundle to verify the server with")
	flag.StringVar(&c.payload, "payload", "", "AdmissionReview JSON file to send (default: a built-in Pod CREATE review)")
	flag.BoolVar(&c.http2, "http2", false, "offer HTTP/2 and HTTP/1.1, as the API server does for a webhook URL on localhost (default: HTTP/1.1 only, as for a webhook behind a Service)")
	flag.IntVar(&c.idleConns, "idle-conns", 25, "idle HTTP/1.1 connections kept for reuse (client-go's default, the API server's webhook client)")
	flag.IntVar(&c.warmup, "warmup", 200, "unmeasured requests sent first (connections, caches)")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-request client timeout")
	flag.Parse()
	if err := c.check(); err != nil {
		return err
	}
	body, uid, err := c.body()
	if err != nil {
		return err
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	l := &loader{cfg: c, client: client, body: body, uidField: []byte(`"uid":"` + uid + `"`)}
	for i := 0; i < c.warmup; i++ {
		if err := l.send(context.Background()); err != nil {
			return fmt.Errorf("warm-up request: %w", err)
		}
	}
	l.allowed.Store(0)
	l.denied.Store(0)
	rep := l.run()
	rep.print(os.Stdout, c)
	return nil
}

func (c *config) check() error {
	switch {
	case c.rate <= 0 || c.rate > maxRate:
		return fmt.Errorf("-rate must be in (0, %d]", maxRate)
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("-duration must be in (0, %v]", maxDuration)
	case c.rate*c.duration.Seconds() > maxRequests:
		return fmt.Errorf("-rate × -duration exceeds %d requests", maxRequests)
	case c.concurrency < 1 || c.concurrency > maxConcurrency:
		return fmt.Errorf("-concurrency must be in [1, %d]", maxConcurrency)
	case c.idleConns < 1 || c.idleConns > maxConcurrency:
		return fmt.Errorf("-idle-conns must be in [1, %d]", maxConcurrency)
	case c.warmup < 0 || c.warmup > 10000:
		return errors.New("-warmup must be in [0, 10000]")
	case c.insecure && c.caFile != "":
		return errors.New("-insecure and -ca exclude each other")
	}
	u, err := url.Parse(c.url)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("-url: scheme %q: want https", u.Scheme)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url host %q is not a loopback address: loadgen only targets this machine", host)
	}
	return nil
}

// body returns the review to send and its request uid.
func (c *config) body() ([]byte, string, error) {
	data := []byte(builtinReview)
	if c.payload != "" {
		var err error
		if data, err = os.ReadFile(c.payload); err != nil {
			return nil, "", err
		}
	}
	var review struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Request    *struct {
			UID string `json:"uid"`
		} `json:"request"`
	}
	if err := json.Unmarshal(data, &review); err != nil {
		return nil, "", fmt.Errorf("payload: %w", err)
	}
	if review.Kind != "AdmissionReview" || review.Request == nil || review.Request.UID == "" {
		return nil, "", errors.New("payload: not an AdmissionReview with request.uid")
	}
	// Compact, so the response check can find `"uid":"..."`.
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), review.Request.UID, nil
}

func (c *config) client() (*http.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.insecure} //nolint:gosec // -insecure is explicit
	if !c.http2 {
		// What the API server sets for webhooks behind a Service.
		tlsConf.NextProtos = []string{"http/1.1"}
	}
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no certificates", c.caFile)
		}
		tlsConf.RootCAs = pool
	}
	tr := &http.Transport{
		TLSClientConfig:     tlsConf,
		MaxIdleConnsPerHost: c.idleConns,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   c.http2,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: c.timeout}, nil
}

type loader struct {
	cfg      config
	client   *http.Client
	body     []byte
	uidField []byte

	httpErrors, transportErrors, badResponses, allowed, denied atomic.Int64
	// proto is the protocol of the first response ("HTTP/1.1", "HTTP/2.0").
	proto atomic.Value
}

// send posts one review and checks the answer.
func (l *loader) send(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.cfg.url, bytes.NewReader(l.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		l.transportErrors.Add(1)
		return err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	l.proto.CompareAndSwap(nil, resp.Proto)
	switch {
	case err != nil:
		l.transportErrors.Add(1)
		return err
	case resp.StatusCode != http.StatusOK:
		l.httpErrors.Add(1)
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	case !bytes.Contains(data, l.uidField):
		l.badResponses.Add(1)
		return fmt.Errorf("response without the request uid: %.200s", data)
	case bytes.Contains(data, []byte(`"allowed":true`)):
		l.allowed.Add(1)
	default:
		l.denied.Add(1)
	}
	return nil
}

type sample struct {
	latency, service time.Duration
}

type report struct {
	scheduled, dispatched, dropped int
	elapsed, dispatchTime          time.Duration
	lagSum, lagMax                 time.Duration
	latency, service               []time.Duration
	firstErr                       string
	l                              *loader
}

func (l *loader) run() *report {
	total := int(l.cfg.rate * l.cfg.duration.Seconds())
	interval := float64(time.Second) / l.cfg.rate
	jobs := make(chan time.Time, max(1, min(total, 100_000)))
	// Hard stop: the run never outlives its duration by more than the
	// client timeout plus a margin.
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.duration+l.cfg.timeout+5*time.Second)
	defer cancel()

	samples := make([][]sample, l.cfg.concurrency)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := range l.cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]sample, 0, total/l.cfg.concurrency+16)
			for at := range jobs {
				sent := time.Now()
				err := l.send(ctx)
				done := time.Now()
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				own = append(own, sample{latency: done.Sub(at), service: done.Sub(sent)})
			}
			samples[w] = own
		}()
	}

	rep := &report{scheduled: total, l: l}
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(float64(i) * interval))
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		now := time.Now()
		lag := now.Sub(at)
		rep.lagSum += lag
		rep.lagMax = max(rep.lagMax, lag)
		select {
		case jobs <- now:
			rep.dispatched++
		default:
			rep.dropped++ // every worker busy and the queue full
		}
	}
	rep.dispatchTime = time.Since(start)
	close(jobs)
	wg.Wait()
	rep.elapsed = time.Since(start)
	for _, s := range samples {
		for _, x := range s {
			rep.latency = append(rep.latency, x.latency)
			rep.service = append(rep.service, x.service)
		}
	}
	slices.Sort(rep.latency)
	slices.Sort(rep.service)
	if e, ok := firstErr.Load().(string); ok {
		rep.firstErr = e
	}
	return rep
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func (r *report) print(w io.Writer, c config) {
	l := r.l
	proto, _ := l.proto.Load().(string)
	if c.http2 {
		proto += ", h2 offered"
	} else {
		proto += fmt.Sprintf(", h2 not offered, %d idle connections kept", c.idleConns)
	}
	errs := l.httpErrors.Load() + l.transportErrors.Load() + l.badResponses.Load()
	ok := len(r.latency)
	fmt.Fprintf(w, "target        %s (%s, %d workers)\n", c.url, proto, c.concurrency)
	fmt.Fprintf(w, "offered       %d requests at %.0f/s over %v\n", r.scheduled, c.rate, c.duration)
	fmt.Fprintf(w, "sent          %d in %v (%.1f/s); dropped %d (all workers busy, queue full)\n",
		r.dispatched, r.dispatchTime.Round(time.Millisecond), float64(r.dispatched)/r.dispatchTime.Seconds(), r.dropped)
	fmt.Fprintf(w, "achieved      %.1f successful responses/s (%d in %v)\n", float64(ok)/r.elapsed.Seconds(), ok, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "errors        %d (HTTP status %d, transport %d, bad response %d)\n", errs, l.httpErrors.Load(), l.transportErrors.Load(), l.badResponses.Load())
	if r.firstErr != "" {
		fmt.Fprintf(w, "first error   %s\n", strings.TrimSpace(r.firstErr))
	}
	fmt.Fprintf(w, "verdicts      allowed %d, denied %d\n", l.allowed.Load(), l.denied.Load())
	for _, row := range []struct {
		name string
		d    []time.Duration
	}{{"latency", r.latency}, {"service time", r.service}} {
		fmt.Fprintf(w, "%-13s p50 %s  p90 %s  p99 %s  max %s\n", row.name,
			ms(percentile(row.d, 50)), ms(percentile(row.d, 90)), ms(percentile(row.d, 99)), ms(percentile(row.d, 100)))
	}
	if r.dispatched > 0 {
		fmt.Fprintf(w, "schedule lag  mean %s  max %s (the generator's own lateness, not counted in latency)\n",
			ms(r.lagSum/time.Duration(r.dispatched+r.dropped)), ms(r.lagMax))
	}
	fmt.Fprintln(w, "(latency: from hand-off to the worker pool, queueing included; service time: from the actual send)")
}

// builtinReview is what the API server sends when a ReplicaSet controller
// creates a pod: a restricted-compliant Pod with probes, resources, env,
// a projected service account token and the controller's userInfo.
const builtinReview = `{
  "apiVersion": "admission.k8s.io/v1",
  "kind": "AdmissionReview",
  "request": {
    "uid": "4b8c1a6e-2f43-4d7a-9a51-3c0f7e8d9b21",
    "kind": {"group": "", "version": "v1", "kind": "Pod"},
    "resource": {"group": "", "version": "v1", "resource": "pods"},
    "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
    "requestResource": {"group": "", "version": "v1", "resource": "pods"},
    "namespace": "payments",
    "operation": "CREATE",
    "userInfo": {
      "username": "system:serviceaccount:kube-system:replicaset-controller",
      "uid": "a1d5e0c2-7b7e-4c55-8f0e-0d3f1f5b6c7a",
      "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]
    },
    "object": {
      "apiVersion": "v1",
      "kind": "Pod",
      "metadata": {
        "generateName": "payments-api-7d9f8c6b5d-",
        "namespace": "payments",
        "labels": {
          "app.kubernetes.io/name": "payments-api",
          "app.kubernetes.io/part-of": "payments",
          "app.kubernetes.io/version": "2.7.1",
          "pod-template-hash": "7d9f8c6b5d"
        },
        "annotations": {
          "kubectl.kubernetes.io/default-container": "api",
          "prometheus.io/scrape": "true",
          "prometheus.io/port": "9090"
        },
        "ownerReferences": [{
          "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "payments-api-7d9f8c6b5d",
          "uid": "e3f1c9a4-5b6d-4e8f-9a0b-1c2d3e4f5a6b", "controller": true, "blockOwnerDeletion": true
        }],
        "managedFields": [{
          "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
          "time": "2026-05-04T09:12:33Z", "fieldsType": "FieldsV1",
          "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app.kubernetes.io/name": {}, "f:pod-template-hash": {}}, "f:ownerReferences": {".": {}}}, "f:spec": {"f:containers": {}, "f:securityContext": {}}}
        }]
      },
      "spec": {
        "serviceAccountName": "payments-api",
        "automountServiceAccountToken": true,
        "enableServiceLinks": false,
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "priority": 0,
        "securityContext": {
          "runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
          "seccompProfile": {"type": "RuntimeDefault"}
        },
        "initContainers": [{
          "name": "migrate",
          "image": "gcr.io/acme-prod/payments-migrate:2.7.1",
          "args": ["--database-url=$(DATABASE_URL)", "--wait"],
          "env": [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "payments-db", "key": "url"}}}],
          "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
          "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
          "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"
        }],
        "containers": [{
          "name": "api",
          "image": "gcr.io/acme-prod/payments-api:2.7.1",
          "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
          "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "payments-db", "key": "url"}}}
          ],
          "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
          "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
          "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http", "scheme": "HTTP"}, "periodSeconds": 5, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
          "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "config", "mountPath": "/etc/payments", "readOnly": true},
            {"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}
          ],
          "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
          "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"
        }, {
          "name": "proxy",
          "image": "ghcr.io/org/envoy:1.30.1",
          "args": ["--config-path", "/etc/envoy/envoy.yaml"],
          "ports": [{"name": "proxy", "containerPort": 15001, "protocol": "TCP"}],
          "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
          "volumeMounts": [{"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}],
          "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
          "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"
        }],
        "volumes": [
          {"name": "tmp", "emptyDir": {}},
          {"name": "config", "configMap": {"name": "payments-api", "defaultMode": 420}},
          {"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
          ]}}
        ],
        "tolerations": [
          {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
          {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ]
      },
      "status": {"phase": "Pending", "qosClass": "Burstable"}
    },
    "oldObject": null,
    "dryRun": false,
    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
  }
}`
