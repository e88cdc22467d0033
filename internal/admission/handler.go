package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	admissionv1 "k8s.io/api/admission/v1"
)

// Paths served by Handler.
const (
	PathValidate = "/validate"
	PathMutate   = "/mutate"
	PathHealthz  = "/healthz"
	PathReadyz   = "/readyz"
	PathMetrics  = "/metrics"
)

// Defaults.
const (
	// DefaultMaxRequestBytes is the largest accepted request body, the API
	// server's own request size limit (3 MiB).
	DefaultMaxRequestBytes = 3 << 20
	// DefaultTimeout bounds an evaluation when the request carries no
	// timeout (the API server sends ?timeout=10s by default).
	DefaultTimeout = 10 * time.Second
	// MaxTimeout is the largest timeout honoured (the API server's maximum).
	MaxTimeout = 30 * time.Second
)

// The AdmissionReview apiVersion and kind this handler speaks.
const (
	reviewAPIVersion = "admission.k8s.io/v1"
	reviewKind       = "AdmissionReview"
)

// HandlerOptions configure a Handler. Only Policies is required.
type HandlerOptions struct {
	// Policies gives the policy set for each request.
	Policies PolicySource
	// Engine evaluates requests (default engine.New()).
	Engine *engine.Engine
	// NamespaceLabels looks up the labels of a request's namespace, for
	// namespaceSelector and CEL namespaceObject. Nil: no labels.
	NamespaceLabels NamespaceLabelsFunc
	// Cluster answers what policies read from the cluster at admission:
	// Kyverno configMap and apiCall context entries (engine
	// Input.Cluster) and CEL resource.Get/List (Input.Resources). Nil:
	// those entries are left to values and CEL lookups find nothing.
	Cluster cel.ResourceStore
	// Recorder receives an event per failed Audit rule. Nil: no events.
	Recorder Recorder
	// Logger receives structured logs (default: discarded). Logs carry the
	// request UID, kind, namespace and name, never object contents.
	Logger *slog.Logger
	// Registry holds the metrics served on /metrics (default: a new
	// private registry). The default global registry is never used.
	Registry *prometheus.Registry
	// MaxRequestBytes limits request bodies (default DefaultMaxRequestBytes).
	MaxRequestBytes int64
	// DefaultTimeout bounds evaluation when the request has no ?timeout
	// (default DefaultTimeout).
	DefaultTimeout time.Duration
	// VerificationCache, when set, turns on the signed verification
	// cache: the mutating webhook records the image verdicts of pod
	// controllers in their pod template (vcache.Annotation), and objects
	// carrying a valid record are admitted on it without registry
	// verification of the images it covers.
	VerificationCache *VerificationCacheOptions
	// WebhookDefaults are the failure policy and timeout of policies that
	// set none: they decide which policies a group path
	// (WebhookGroup.Path) evaluates, and must be those the validating
	// configuration was built with (default Fail, 10 s).
	WebhookDefaults GroupDefaults
}

// Handler serves the admission endpoints: PathValidate (every policy),
// PathValidate/<group> (the policies of one WebhookGroup), PathMutate,
// PathHealthz, PathReadyz and PathMetrics. It is safe for concurrent use.
type Handler struct {
	policies  PolicySource
	engine    *engine.Engine
	nsLabels  NamespaceLabelsFunc
	cluster   cel.ResourceStore
	recorder  Recorder
	log       *slog.Logger
	metrics   *metrics
	maxBytes  int64
	timeout   time.Duration
	mux       *http.ServeMux
	bufs      sync.Pool
	validateH http.Handler
	mutateH   http.Handler
	vc        *verificationCache
	// groups caches the policies of each webhook group.
	groups *groupSets
}

// NewHandler returns a Handler. It fails when opts.Policies is nil or the
// metrics cannot be registered (for example twice in one registry).
func NewHandler(opts HandlerOptions) (*Handler, error) {
	if opts.Policies == nil {
		return nil, errors.New("admission: HandlerOptions.Policies is required")
	}
	h := &Handler{
		policies: opts.Policies,
		engine:   opts.Engine,
		nsLabels: opts.NamespaceLabels,
		cluster:  opts.Cluster,
		recorder: opts.Recorder,
		log:      opts.Logger,
		maxBytes: opts.MaxRequestBytes,
		timeout:  opts.DefaultTimeout,
		groups:   &groupSets{defaults: opts.WebhookDefaults.WithDefaults()},
	}
	if h.engine == nil {
		h.engine = engine.New()
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBytes <= 0 {
		h.maxBytes = DefaultMaxRequestBytes
	}
	if h.timeout <= 0 {
		h.timeout = DefaultTimeout
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("admission: register metrics: %w", err)
	}
	h.metrics = m
	if h.vc, err = newVerificationCache(opts.VerificationCache, reg); err != nil {
		return nil, fmt.Errorf("admission: register metrics: %w", err)
	}
	h.bufs.New = func() any { return new(bytes.Buffer) }
	h.validateH = h.guard(PathValidate, func(w http.ResponseWriter, r *http.Request) { h.serveValidate(w, r, "") })
	validateGroup := h.guard(PathValidate, func(w http.ResponseWriter, r *http.Request) { h.serveValidate(w, r, r.PathValue("group")) })
	h.mutateH = h.guard(PathMutate, h.serveMutate)

	h.mux = http.NewServeMux()
	h.mux.Handle(PathValidate, h.validateH)
	h.mux.Handle(PathValidate+"/{group}", validateGroup)
	h.mux.Handle(PathMutate, h.mutateH)
	h.mux.HandleFunc(PathHealthz, func(w http.ResponseWriter, _ *http.Request) { writeText(w, http.StatusOK, "ok") })
	h.mux.HandleFunc(PathReadyz, h.serveReadyz)
	h.mux.Handle(PathMetrics, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(h.log.Handler(), slog.LevelWarn)}))
	return h, nil
}

// ServeHTTP implements http.Handler, routing by path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Validate returns the handler of PathValidate alone, for callers that
// route themselves.
func (h *Handler) Validate() http.Handler { return h.validateH }

// Mutate returns the handler of PathMutate alone.
func (h *Handler) Mutate() http.Handler { return h.mutateH }

func (h *Handler) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	if h.policies.Current() == nil {
		writeText(w, http.StatusServiceUnavailable, "not ready: no policy set loaded")
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// requestError is a request rejected before evaluation.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// decoded is a validated AdmissionReview request with its objects decoded.
type decoded struct {
	req    *admissionv1.AdmissionRequest
	obj    map[string]any
	oldObj map[string]any
	// verified are verdicts of a signed verification record of obj
	// (nil when none); results are the last evaluation's.
	verified engine.VerifiedImages
	results  []engine.Result
	// failed is set when the last evaluation could not complete (its
	// decision is engine.DecideFailed's).
	failed bool
}

// readReview checks and decodes an AdmissionReview request. It never
// panics on hostile input; every rejection is a *requestError.
func (h *Handler) readReview(w http.ResponseWriter, r *http.Request) (*decoded, *requestError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &requestError{http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: POST an admission.k8s.io/v1 AdmissionReview", r.Method)}
	}
	ct := r.Header.Get("Content-Type")
	// "application/json", what the API server sends, needs no parsing.
	if ct != "application/json" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, &requestError{http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q: want application/json", ct)}
		}
	}
	tooLarge := func() *requestError {
		return &requestError{http.StatusBadRequest, fmt.Sprintf("AdmissionReview too large: request body larger than %d bytes", h.maxBytes)}
	}
	if r.ContentLength > h.maxBytes {
		return nil, tooLarge()
	}
	buf := h.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 { // do not pin huge buffers
			h.bufs.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBytes)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge()
		}
		return nil, badRequest("reading request body: %v", err)
	}
	// JSON whitespace only: bytes.TrimSpace also drops \v, \f and
	// Unicode spaces, so a body starting with one was accepted although
	// it is not JSON.
	data := bytes.Trim(buf.Bytes(), " \t\r\n")
	if len(data) == 0 {
		return nil, badRequest("empty request body: want an admission.k8s.io/v1 AdmissionReview")
	}
	return decodeReview(data)
}

// wireReview is an AdmissionReview whose request objects are decoded
// straight into maps, in the same pass as the rest of the review: the
// object is the bulk of a review, and decoding it as a RawExtension
// first (which scans and copies it) and then again into a map cost three
// scans of it per request.
type wireReview struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Request    *wireRequest `json:"request"`
}

// wireRequest shadows the Object and OldObject of the embedded
// AdmissionRequest (a shallower field wins), which stay empty.
type wireRequest struct {
	admissionv1.AdmissionRequest
	Object    map[string]any `json:"object"`
	OldObject map[string]any `json:"oldObject"`
}

// decodeReviewStrict decodes data with github.com/go-json-experiment/json
// (the encoding/json/v2 of Go's GOEXPERIMENT=jsonv2, as a module) with its
// defaults (JSON names match exactly; duplicate names and invalid UTF-8
// are refused) and no member the review's types do not declare: about
// two thirds of encoding/json's CPU and fewer allocations for a review
// (docs/benchmarks.md, issue 11, eighth session). It accepts only input
// whose every name matches a field exactly, names no member twice and is
// valid UTF-8; on such input encoding/json decodes the same values
// (FuzzDecodeReviewStrict checks it), and anything else returns false, for
// decodeReviewV1 to read as it always has.
func decodeReviewStrict(data []byte) (wireReview, bool) {
	var review wireReview
	if err := jsonv2.Unmarshal(data, &review, jsonv2.RejectUnknownMembers(true)); err != nil {
		return wireReview{}, false
	}
	return review, true
}

// decodeReview decodes and checks an AdmissionReview in one pass: with
// decodeReviewStrict, or encoding/json when that one declines. Input both
// refuse goes through decodeReviewSlow, so every rejection reads as it
// always has.
func decodeReview(data []byte) (*decoded, *requestError) {
	if review, ok := decodeReviewStrict(data); ok {
		return checkReview(&review)
	}
	return decodeReviewV1(data)
}

// decodeReviewV1 is decodeReview with encoding/json only.
func decodeReviewV1(data []byte) (*decoded, *requestError) {
	var review wireReview
	if err := json.Unmarshal(data, &review); err != nil {
		return decodeReviewSlow(data)
	}
	return checkReview(&review)
}

// checkReview checks what decodeReview decoded.
func checkReview(review *wireReview) (*decoded, *requestError) {
	if review.APIVersion != reviewAPIVersion || review.Kind != reviewKind {
		return nil, badRequest("unsupported apiVersion %q and kind %q: want %s %s", review.APIVersion, review.Kind, reviewAPIVersion, reviewKind)
	}
	req := review.Request
	if req == nil {
		return nil, badRequest("AdmissionReview has no request")
	}
	if req.UID == "" {
		return nil, badRequest("AdmissionReview request has no uid")
	}
	return &decoded{req: &req.AdmissionRequest, obj: req.Object, oldObj: req.OldObject}, nil
}

// decodeReviewSlow decodes the review as admissionv1.AdmissionReview and
// its objects from their raw bytes; it names what is wrong with a review
// decodeReview could not decode.
func decodeReviewSlow(data []byte) (*decoded, *requestError) {
	var review admissionv1.AdmissionReview
	// RawExtension copies its bytes, so buf can be reused afterwards.
	if err := json.Unmarshal(data, &review); err != nil {
		return nil, badRequest("malformed AdmissionReview: %v", err)
	}
	if review.APIVersion != reviewAPIVersion || review.Kind != reviewKind {
		return nil, badRequest("unsupported apiVersion %q and kind %q: want %s %s", review.APIVersion, review.Kind, reviewAPIVersion, reviewKind)
	}
	req := review.Request
	if req == nil {
		return nil, badRequest("AdmissionReview has no request")
	}
	if req.UID == "" {
		return nil, badRequest("AdmissionReview request has no uid")
	}
	d := &decoded{req: req}
	var err error
	if d.obj, err = decodeObject(req.Object.Raw); err != nil {
		return nil, badRequest("request.object is not a JSON object: %v", err)
	}
	if d.oldObj, err = decodeObject(req.OldObject.Raw); err != nil {
		return nil, badRequest("request.oldObject is not a JSON object: %v", err)
	}
	req.Object.Raw, req.OldObject.Raw = nil, nil // decoded, as by decodeReview
	return d, nil
}

func decodeObject(raw []byte) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// reject answers a request that could not be decoded.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, endpoint string, start time.Time, e *requestError) {
	writeText(w, e.code, e.msg)
	h.metrics.requests.WithLabelValues(endpoint, "", "", resultInvalid).Inc()
	h.metrics.latency.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "rejected admission request",
		slog.String("endpoint", endpoint), slog.Int("status", e.code), slog.String("reason", e.msg),
		slog.String("remote", r.RemoteAddr))
}

func (h *Handler) serveMutate(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	d, rerr := h.readReview(w, r)
	if rerr != nil {
		h.reject(w, r, PathMutate, start, rerr)
		return
	}
	req := d.req
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	var patches []engine.Patch
	ctx, cancel := context.WithTimeout(r.Context(), imageBudget(h.requestTimeout(r)))
	defer cancel()
	ctx, registryRequests := withRegistryCounter(ctx)

	// Kyverno verifyImages rules verify and pin images here, as in Kyverno,
	// and ClusterImagePolicies pin the tags they cover to digests; the
	// validating webhook checks them again (verifyImages from the cache)
	// so a request that skipped mutation is still verified.
	//
	// Kyverno mutate rules run first, in policy order, each on the object
	// as the rules before it left it; the pins apply to the mutated
	// object. Mutate rules with targets are not applied at admission.
	if set := h.policies.Current(); set != nil && d.obj != nil && (len(set.Images) > 0 || set.HasVerifyImages() || set.HasMutate()) {
		images := len(set.Images) > 0 || set.HasVerifyImages()
		var use *cacheUse
		if images {
			use = h.vc.lookup(ctx, h, set, d)
		}
		if use != nil && use.verdicts != nil {
			d.verified = verified{use.verdicts}
		}
		v := h.evaluateMutate(ctx, set, d)
		if !v.Allowed {
			resp.Allowed = false
			resp.Result = status(&v)
		}
		resp.Warnings = append(resp.Warnings, v.Warnings...)
		patches = v.Patches
		if images && resp.Allowed && (use == nil || use.reason != "" || !use.verdicts.All()) {
			if p := h.recordVerification(ctx, set, d, patches); p != nil {
				patches = append(patches, p...)
			}
		}
	}
	h.vc.registry.WithLabelValues(PathMutate).Observe(float64(registryRequests.n.Load()))
	result := resultAllowed
	if !resp.Allowed {
		result = resultDenied
	} else if len(patches) > 0 {
		patch, err := json.Marshal(patches)
		if err == nil {
			pt := admissionv1.PatchTypeJSONPatch
			resp.Patch, resp.PatchType = patch, &pt
		}
		h.logRequest(ctx, slog.LevelDebug, req, "patched (mutate rules, image pins)", slog.Int("patches", len(patches)))
	}
	h.respond(w, r, resp)
	h.metrics.requests.WithLabelValues(PathMutate, string(req.Operation), req.Kind.Kind, result).Inc()
	h.metrics.latency.WithLabelValues(PathMutate).Observe(time.Since(start).Seconds())
}

// evaluateMutate evaluates the mutating phase with each policy under its
// own webhook timeout. The mutating webhook is one webhook with one
// timeout, but a policy's verifyImages rules must not wait for a registry
// longer than its webhookTimeoutSeconds allows, as on its validating group
// path: the policies of each group (WebhookGroup) are evaluated
// concurrently, each group under its image budget within the request's
// deadline, and the results are decided together.
func (h *Handler) evaluateMutate(ctx context.Context, set *policy.Set, d *decoded) engine.Decision {
	groups := h.groups.list(set)
	budget := func(g WebhookGroup) time.Duration { return imageBudget(time.Duration(g.TimeoutSeconds) * time.Second) }
	if len(groups) == 1 {
		gctx, cancel := context.WithTimeout(ctx, budget(groups[0]))
		defer cancel()
		return h.evaluateSafely(gctx, PathMutate, set, d, engine.PhaseMutate)
	}
	decisions := make([]engine.Decision, len(groups))
	parts := make([]*decoded, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		sub := h.groups.get(set, g)
		parts[i] = &decoded{req: d.req, obj: d.obj, oldObj: d.oldObj, verified: d.verified}
		wg.Add(1)
		go func() {
			defer wg.Done()
			gctx, cancel := context.WithTimeout(ctx, budget(g))
			defer cancel()
			decisions[i] = h.evaluateSafely(gctx, PathMutate, sub, parts[i], engine.PhaseMutate)
		}()
	}
	wg.Wait()
	d.results = nil
	failed := false
	for i := range parts {
		d.results = append(d.results, parts[i].results...)
		failed = failed || parts[i].failed || decisions[i].EvaluationFailed
	}
	if !failed {
		return engine.Decide(set, d.results)
	}
	// A group could not be evaluated: its decision (fail closed or a
	// warning) stands beside the others'.
	out := engine.Decision{Allowed: true}
	var msgs []string
	for _, v := range decisions {
		if !v.Allowed {
			out.Allowed = false
			out.EvaluationFailed = out.EvaluationFailed || v.EvaluationFailed
			msgs = append(msgs, v.Message)
			out.Blocked = append(out.Blocked, v.Blocked...)
		}
		out.Warnings = append(out.Warnings, v.Warnings...)
		out.Events = append(out.Events, v.Events...)
		out.Patches = append(out.Patches, v.Patches...)
	}
	out.Message = strings.Join(msgs, "; ")
	if !out.Allowed {
		out.Patches = nil
	}
	return out
}

// imageBudget is the part of the request's timeout image checks may use:
// the rest is left to answer with a clear denial before the API server
// gives up and applies the webhook's failurePolicy instead.
func imageBudget(timeout time.Duration) time.Duration {
	margin := min(timeout/10, time.Second)
	return timeout - margin
}

// serveValidate evaluates a request against the policies of the webhook
// group named by groupID (WebhookGroup.ID), or against every policy when
// groupID is "" (plain PathValidate, kept for configurations written
// before groups had their own paths).
func (h *Handler) serveValidate(w http.ResponseWriter, r *http.Request, groupID string) {
	start := time.Now()
	var group WebhookGroup
	if groupID != "" {
		g, err := ParseWebhookGroup(groupID)
		if err != nil {
			h.reject(w, r, PathValidate, start, &requestError{http.StatusNotFound, err.Error()})
			return
		}
		group = g
	}
	d, rerr := h.readReview(w, r)
	if rerr != nil {
		h.reject(w, r, PathValidate, start, rerr)
		return
	}
	req := d.req
	set := h.policies.Current()
	if set != nil && groupID != "" {
		set = h.groups.get(set, group)
	}
	if set == nil {
		// Not ready: let the API server apply the webhook's failurePolicy.
		writeText(w, http.StatusServiceUnavailable, "no policy set loaded yet")
		h.metrics.requests.WithLabelValues(PathValidate, string(req.Operation), req.Kind.Kind, resultUnavailable).Inc()
		h.metrics.latency.WithLabelValues(PathValidate).Observe(time.Since(start).Seconds())
		h.logRequest(r.Context(), slog.LevelWarn, req, "admission request before policies were loaded")
		return
	}

	// One deadline for the whole evaluation (rules, CEL, JMESPath, image
	// checks of ClusterImagePolicies and verifyImages rules alike), short
	// of the API server's so the answer arrives before it gives up.
	ctx, cancel := context.WithTimeout(r.Context(), imageBudget(h.requestTimeout(r)))
	defer cancel()
	ctx, registryRequests := withRegistryCounter(ctx)
	use := h.vc.lookup(ctx, h, set, d)
	if use != nil && use.verdicts != nil {
		d.verified = verified{use.verdicts}
	}
	v := h.evaluateSafely(ctx, PathValidate, set, d, engine.PhaseValidate)
	h.vc.account(use, d.results)
	h.vc.registry.WithLabelValues(PathValidate).Observe(float64(registryRequests.n.Load()))

	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: v.Allowed, Warnings: v.Warnings,
		AuditAnnotations: auditAnnotations(&v)}
	result := resultAllowed
	if !v.Allowed {
		resp.Result = status(&v)
		result = resultDenied
	}
	h.respond(w, r, resp)
	if h.recorder != nil && (req.DryRun == nil || !*req.DryRun) {
		for _, ev := range events(&v, objectUID(d.obj, d.oldObj), string(req.Operation)) {
			h.recorder.Record(ctx, ev)
		}
	}
	elapsed := time.Since(start)
	h.metrics.requests.WithLabelValues(PathValidate, string(req.Operation), req.Kind.Kind, result).Inc()
	h.metrics.latency.WithLabelValues(PathValidate).Observe(elapsed.Seconds())

	switch {
	case !v.Allowed:
		h.logRequest(ctx, slog.LevelInfo, req, "denied", slog.Any("rules", v.Blocked), slog.Duration("elapsed", elapsed))
	case len(v.Warnings) > 0:
		h.logRequest(ctx, slog.LevelInfo, req, "admitted with warnings", slog.Int("warnings", len(v.Warnings)), slog.Duration("elapsed", elapsed))
	default:
		h.logRequest(ctx, slog.LevelDebug, req, "admitted", slog.Duration("elapsed", elapsed))
	}
}

// logRequest logs msg with the request's identity (uid, kind, namespace,
// name, operation) and extra attributes; never object contents.
func (h *Handler) logRequest(ctx context.Context, level slog.Level, req *admissionv1.AdmissionRequest, msg string, extra ...slog.Attr) {
	if !h.log.Enabled(ctx, level) {
		return
	}
	attrs := append([]slog.Attr{
		slog.String("uid", string(req.UID)), slog.String("kind", req.Kind.Kind),
		slog.String("namespace", req.Namespace), slog.String("name", req.Name),
		slog.String("operation", string(req.Operation)),
	}, extra...)
	h.log.LogAttrs(ctx, level, msg, attrs...)
}

// requestTimeout is the ?timeout the API server sends (clamped to
// MaxTimeout), else the default.
func (h *Handler) requestTimeout(r *http.Request) time.Duration {
	if s := r.URL.Query().Get("timeout"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return min(d, MaxTimeout)
		}
	}
	return h.timeout
}

// evaluate builds the engine input, evaluates it in phase and decides.
func (h *Handler) evaluate(ctx context.Context, set *policy.Set, d *decoded, phase engine.Phase) engine.Decision {
	req := d.req
	in := engine.Input{
		Resource:    d.obj,
		OldResource: d.oldObj,
		Operation:   string(req.Operation),
		Subresource: req.SubResource,
		UserInfo: engine.UserInfo{
			Username: req.UserInfo.Username,
			UID:      req.UserInfo.UID,
			Groups:   req.UserInfo.Groups,
		},
		Phase: phase,
		// What the validating webhook admits must be what was verified.
		RequireDigests: phase == engine.PhaseValidate,
		Verified:       d.verified,
	}
	if h.cluster != nil {
		in.Cluster, in.Resources = h.cluster, h.cluster
	}
	if in.Resource == nil && in.OldResource == nil {
		// Nothing to evaluate (a CONNECT without options, for example).
		return engine.Decision{Allowed: true}
	}
	if h.nsLabels != nil && req.Namespace != "" {
		labels, err := h.nsLabels(ctx, req.Namespace)
		if err != nil {
			h.logRequest(ctx, slog.LevelWarn, req, "namespace labels unavailable", slog.String("error", err.Error()))
			d.failed = true
			return engine.DecideFailed(set, req.Kind.Kind, resourceOf(req), nil,
				fmt.Errorf("labels of namespace %s unavailable: %w", req.Namespace, err))
		}
		in.NamespaceLabels = labels
	}
	results, err := h.engine.Evaluate(ctx, set, in)
	d.results = results
	h.countResults(results)
	if err != nil && !errors.Is(err, engine.ErrNoResource) {
		h.logRequest(ctx, slog.LevelWarn, req, "evaluation failed", slog.String("error", err.Error()))
		d.failed = true
		return engine.DecideFailed(set, req.Kind.Kind, resourceOf(req), results, err)
	}
	return engine.Decide(set, results)
}

// countResults adds results to portcullis_admission_policy_results_total.
// A policy's results are adjacent and mostly of one status, so a run of
// equal labels costs one lookup of the labelled counter, not one per rule.
func (h *Handler) countResults(results []engine.Result) {
	for i := 0; i < len(results); {
		j := i + 1
		for j < len(results) && results[j].Policy == results[i].Policy && results[j].Status == results[i].Status {
			j++
		}
		h.metrics.decisions.WithLabelValues(results[i].Policy, string(results[i].Status)).Add(float64(j - i))
		i = j
	}
}

// objectUID is metadata.uid of obj, else of oldObj ("" on CREATE).
func objectUID(obj, oldObj map[string]any) string {
	for _, o := range []map[string]any{obj, oldObj} {
		meta, _ := o["metadata"].(map[string]any)
		if uid, _ := meta["uid"].(string); uid != "" {
			return uid
		}
	}
	return ""
}

// resourceOf identifies the requested resource from the request itself.
func resourceOf(req *admissionv1.AdmissionRequest) engine.Resource {
	return engine.Resource{Kind: req.Kind.Kind, Namespace: req.Namespace, Name: req.Name}
}

func (h *Handler) respond(w http.ResponseWriter, r *http.Request, resp *admissionv1.AdmissionResponse) {
	review := admissionv1.AdmissionReview{Response: resp}
	review.APIVersion = reviewAPIVersion
	review.Kind = reviewKind
	data, err := json.Marshal(&review)
	if err != nil { // cannot happen for these types
		h.log.LogAttrs(r.Context(), slog.LevelError, "encoding AdmissionReview", slog.String("error", err.Error()))
		writeText(w, http.StatusInternalServerError, "encoding response failed")
		return
	}
	// One Write with its length declared: HTTP/1.1 answers with a
	// Content-Length (not chunked, whatever the size), in one TLS record
	// when it fits.
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}
