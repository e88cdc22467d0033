package admission

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/lang/mutate"
	"github.com/portcullis/portcullis/internal/podspec"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/vcache"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultVerificationCacheTTL is how long a signed verification record
// stands in for the registry (--verification-cache-ttl).
const DefaultVerificationCacheTTL = time.Hour

// VerificationCacheOptions turn on the signed verification cache (see
// internal/vcache): the mutating webhook records the image verdicts of a
// pod controller in an annotation of its pod template, and the objects
// created from it are admitted on those verdicts without registry
// requests.
type VerificationCacheOptions struct {
	// Keys returns the signing keys; false while none are loaded (records
	// are then neither written nor read).
	Keys func() (vcache.KeySet, bool)
	// TTL is the validity of a record (default DefaultVerificationCacheTTL).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Miss reasons of the handler besides vcache's, for
// portcullis_verification_cache_misses_total.
const (
	// missAbsent: the object carries no record.
	missAbsent = "absent"
	// missPolicyNotCovered: the record holds, but a policy that applies
	// now had no verdict in it (a new policy, or one that matches the
	// child and not its parent).
	missPolicyNotCovered = "policy_not_covered"
)

// verificationCache is the handler's part of the cache.
type verificationCache struct {
	opts   VerificationCacheOptions
	hashes atomic.Pointer[setHashes]
	hits   prometheus.Counter
	misses *prometheus.CounterVec
	// registry is the registry requests per admission, by endpoint.
	registry *prometheus.HistogramVec
}

func newVerificationCache(opts *VerificationCacheOptions, reg prometheus.Registerer) (*verificationCache, error) {
	vc := &verificationCache{
		registry: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "portcullis", Subsystem: "verification", Name: "registry_requests",
			Help:    "Registry requests made by one admission request (image verification and tag resolution), by endpoint.",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64},
		}, []string{"endpoint"}),
	}
	cs := []prometheus.Collector{vc.registry}
	if opts != nil {
		vc.opts = *opts
		if vc.opts.TTL <= 0 {
			vc.opts.TTL = DefaultVerificationCacheTTL
		}
		if vc.opts.Now == nil {
			vc.opts.Now = time.Now
		}
		vc.hits = prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "portcullis", Name: "verification_cache_hits_total",
			Help: "Admissions of objects whose image verdicts all came from a signed verification record (no registry verification).",
		})
		vc.misses = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis", Name: "verification_cache_misses_total",
			Help: "Admissions of objects under image policies verified (at least partly) from the registry, by why the signed verification record did not answer (absent, malformed, unknown_key, bad_signature, namespace, expired, policy_changed, image_not_covered, digest_mismatch, policy_not_covered).",
		}, []string{"reason"})
		for _, r := range vcache.Reasons {
			vc.misses.WithLabelValues(string(r))
		}
		vc.misses.WithLabelValues(missAbsent)
		vc.misses.WithLabelValues(missPolicyNotCovered)
		cs = append(cs, vc.hits, vc.misses)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return vc, nil
}

// enabled reports whether records are read and written.
func (vc *verificationCache) enabled() bool { return vc != nil && vc.opts.Keys != nil }

// setHashes are the content hashes of a policy set's image policies.
type setHashes struct {
	set    *policy.Set
	hashes map[vcache.PolicyID]string
}

// policyHashes returns the content hashes of the image policies of set
// (ClusterImagePolicies, Kyverno policies with verifyImages rules),
// computed once per set.
func (vc *verificationCache) policyHashes(set *policy.Set) map[vcache.PolicyID]string {
	if cur := vc.hashes.Load(); cur != nil && cur.set == set {
		return cur.hashes
	}
	hashes := make(map[vcache.PolicyID]string)
	for _, p := range set.Images {
		hashes[vcache.PolicyID{Kind: engine.KindClusterImagePolicy, Name: p.Name()}] =
			contentHash(engine.KindClusterImagePolicy, p.Object.Annotations, p.Object.Spec)
	}
	for _, p := range set.Policies {
		if !hasVerifyImages(p) {
			continue
		}
		kind := engine.KindClusterPolicy
		if p.Spec.IsNamespaced() {
			kind = engine.KindPolicy
		}
		hashes[vcache.PolicyID{Kind: kind, Name: p.Key()}] = contentHash(kind, p.Spec.Annotations, p.Spec.Spec)
	}
	vc.hashes.Store(&setHashes{set: set, hashes: hashes})
	return hashes
}

func hasVerifyImages(p *policy.Policy) bool {
	for _, r := range p.Rules {
		if len(r.Spec.VerifyImages) > 0 {
			return true
		}
	}
	return false
}

// contentHash is the generation of a policy: a hash of its kind,
// annotations (scoring, autogen) and spec, so any edit, or a deletion and
// re-creation with other content, changes it.
func contentHash(kind string, annotations map[string]string, spec any) string {
	data, err := json.Marshal(struct {
		Kind        string            `json:"kind"`
		Annotations map[string]string `json:"annotations,omitempty"`
		Spec        any               `json:"spec"`
	}{kind, annotations, spec})
	if err != nil {
		// Cannot happen for these types; an unusable hash matches nothing.
		return "unhashable:" + err.Error()
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// cacheUse is what the cache did for one request.
type cacheUse struct {
	// verdicts are the checked record's (nil when absent or void).
	verdicts *vcache.Verdicts
	// reason is why the record did not answer fully ("" when it did).
	reason string
}

// lookup reads and checks the record of the object under admission, and
// returns what it answers (nil when nothing).
func (vc *verificationCache) lookup(ctx context.Context, h *Handler, set *policy.Set, d *decoded) *cacheUse {
	if !vc.enabled() || d.obj == nil {
		return nil
	}
	hashes := vc.policyHashes(set)
	if len(hashes) == 0 {
		return nil // no image policy: nothing to verify, nothing to count
	}
	kind, _ := d.obj["kind"].(string)
	value, ok := recordAnnotation(kind, d.obj)
	if !ok {
		return &cacheUse{reason: missAbsent}
	}
	ks, ok := vc.opts.Keys()
	if !ok {
		return &cacheUse{reason: missAbsent}
	}
	now := vc.opts.Now()
	rec, reason, err := vcache.Open(value, ks, now)
	if reason != "" {
		h.logRequest(ctx, slog.LevelDebug, d.req, "verification record ignored", slog.String("reason", string(reason)), slog.String("detail", err.Error()))
		return &cacheUse{reason: string(reason)}
	}
	images, _ := podImageRefs(kind, d.obj)
	verdicts, reason := vcache.Check(rec, vcache.Child{Namespace: namespaceOf(d), Images: images,
		Policies: hashes, Now: now})
	if reason != "" {
		h.logRequest(ctx, slog.LevelDebug, d.req, "verification record ignored", slog.String("reason", string(reason)))
	}
	return &cacheUse{verdicts: verdicts, reason: string(reason)}
}

// namespaceOf is the request's namespace, else the object's.
func namespaceOf(d *decoded) string {
	if d.req.Namespace != "" {
		return d.req.Namespace
	}
	meta, _ := d.obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	return ns
}

// recordAnnotation returns the record annotation of the pods of obj (a
// Pod's own, a pod controller's template's).
func recordAnnotation(kind string, obj map[string]any) (string, bool) {
	path, ok := podspec.MetadataPath(kind)
	if !ok {
		return "", false
	}
	meta, err := podspec.Lookup(obj, path)
	if err != nil || meta == nil {
		return "", false
	}
	ann, _ := meta["annotations"].(map[string]any)
	v, ok := ann[vcache.Annotation].(string)
	return v, ok
}

// podImageRefs lists the image references of obj's pod spec with their
// JSON pointers.
func podImageRefs(kind string, obj map[string]any) ([]string, map[string]string) {
	spec, path := podspec.Of(kind, obj)
	if spec == nil {
		return nil, nil
	}
	containers, _ := podspec.Containers(spec, path)
	var refs []string
	byPointer := make(map[string]string, len(containers))
	for _, c := range containers {
		cm, ok := c.Object()
		if !ok {
			continue
		}
		ref, _ := cm["image"].(string)
		if ref == "" {
			continue
		}
		refs = append(refs, ref)
		byPointer[c.Pointer()+"/image"] = ref
	}
	return refs, byPointer
}

// account counts a hit or a miss for an evaluation's results: a hit when
// image results were produced and all came from the record.
func (vc *verificationCache) account(use *cacheUse, results []engine.Result) {
	if use == nil || vc.hits == nil {
		return
	}
	images, cached := 0, 0
	for i := range results {
		if isImageResult(&results[i]) && results[i].Status != engine.StatusSkip {
			images++
			if results[i].Cached {
				cached++
			}
		}
	}
	switch {
	case images == 0:
		// No image policy applied: nothing to verify, nothing to count.
	case cached == images:
		vc.hits.Inc()
	case use.reason != "":
		vc.misses.WithLabelValues(use.reason).Inc()
	default:
		vc.misses.WithLabelValues(missPolicyNotCovered).Inc()
	}
}

// isImageResult reports whether r is an image verification verdict.
func isImageResult(r *engine.Result) bool {
	return r.Image != "" && (r.PolicyKind == engine.KindClusterImagePolicy || r.PolicyKind == engine.KindClusterPolicy || r.PolicyKind == engine.KindPolicy)
}

// verified adapts checked verdicts to engine.VerifiedImages.
type verified struct{ v *vcache.Verdicts }

func (a verified) Digest(ref string) (string, bool) { return a.v.Digest(ref) }

func (a verified) ImagePolicy(ref, name string) (engine.Verdict, bool) {
	r, ok := a.v.ImagePolicy(ref, engine.KindClusterImagePolicy, name)
	if !ok {
		return engine.Verdict{}, false
	}
	d, _ := a.v.Digest(ref)
	return engine.Verdict{Image: ref, Digest: d, Status: engine.Status(r.Status), Message: r.Message, Enforce: r.Enforce}, true
}

func (a verified) ImageRule(kind, name, rule string) ([]engine.Verdict, bool) {
	rs, ok := a.v.Rule(kind, name, rule)
	if !ok {
		return nil, false
	}
	out := make([]engine.Verdict, len(rs))
	for i, r := range rs {
		d, _ := a.v.Digest(r.Image)
		out[i] = engine.Verdict{Image: r.Image, Digest: d, Status: engine.Status(r.Status), Message: r.Message, Enforce: r.Enforce}
	}
	return out, true
}

// record makes the record of an admitted pod controller from the results
// of its image verification (PhaseVerifyImages on the object as the
// mutating webhook leaves it). It returns false when nothing may be
// recorded: a denial or an error, an image result without a digest, or
// no image result at all.
func (vc *verificationCache) record(set *policy.Set, namespace, kind string, obj map[string]any, results []engine.Result) (vcache.Record, bool) {
	refs, byPointer := podImageRefs(kind, obj)
	now := vc.opts.Now()
	rec := vcache.Record{Namespace: namespace, VerifiedAt: now.Unix(), ExpiresAt: now.Add(vc.opts.TTL).Unix()}
	for _, ref := range refs {
		if _, d, ok := strings.Cut(ref, "@"); ok {
			rec.Images = append(rec.Images, vcache.Image{Ref: ref, Digest: d})
		}
	}
	hashes := vc.policyHashes(set)
	policies := map[vcache.PolicyID]*vcache.Policy{}
	for i := range results {
		r := &results[i]
		if r.Status == engine.StatusSkip {
			continue
		}
		if r.Status == engine.StatusError || (r.Status == engine.StatusFail && r.Enforce) {
			return vcache.Record{}, false
		}
		if !isImageResult(r) {
			continue
		}
		ref, ok := byPointer[r.Path]
		if !ok || !strings.Contains(ref, "@") {
			return vcache.Record{}, false
		}
		id := vcache.PolicyID{Kind: r.PolicyKind, Name: r.Policy}
		hash, ok := hashes[id]
		if !ok {
			return vcache.Record{}, false
		}
		p := policies[id]
		if p == nil {
			p = &vcache.Policy{PolicyID: id, Hash: hash}
			policies[id] = p
		}
		rule := ""
		if r.PolicyKind != engine.KindClusterImagePolicy {
			rule = r.BaseRule()
			p.Rules = append(p.Rules, rule)
		}
		rec.Results = append(rec.Results, vcache.Result{Image: ref, PolicyID: id, Rule: rule,
			Status: string(r.Status), Message: r.Message, Enforce: r.Enforce})
	}
	if len(rec.Results) == 0 {
		return vcache.Record{}, false
	}
	for _, p := range policies {
		rec.Policies = append(rec.Policies, *p)
	}
	return rec, true
}

// annotationPatch is the JSON patch adding value as the record annotation
// of the pod template of obj (kind).
func annotationPatch(kind string, obj map[string]any, value string) ([]engine.Patch, error) {
	path, ok := podspec.MetadataPath(kind)
	if !ok {
		return nil, fmt.Errorf("kind %s has no pod template", kind)
	}
	pointer := "/" + strings.Join(path, "/")
	meta, err := podspec.Lookup(obj, path)
	if err != nil {
		return nil, err
	}
	key := strings.ReplaceAll(strings.ReplaceAll(vcache.Annotation, "~", "~0"), "/", "~1")
	switch ann, isMap := meta["annotations"].(map[string]any); {
	case meta == nil:
		return []engine.Patch{{Op: "add", Path: pointer, Value: map[string]any{"annotations": map[string]any{vcache.Annotation: value}}}}, nil
	case !isMap || ann == nil:
		return []engine.Patch{{Op: "add", Path: pointer + "/annotations", Value: map[string]any{vcache.Annotation: value}}}, nil
	default:
		return []engine.Patch{{Op: "add", Path: pointer + "/annotations/" + key, Value: value}}, nil
	}
}

// registryCounter counts the registry requests of one admission request.
type registryCounter struct{ n atomic.Int64 }

type registryCounterKey struct{}

// CountRegistryRequests wraps the transport of registry requests so that
// each request made for an admission request counts in
// portcullis_verification_registry_requests (nil next: the default
// transport).
func CountRegistryRequests(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return countingTransport{next}
}

type countingTransport struct{ next http.RoundTripper }

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c, ok := r.Context().Value(registryCounterKey{}).(*registryCounter); ok {
		c.n.Add(1)
	}
	return t.next.RoundTrip(r)
}

// withRegistryCounter returns ctx carrying a fresh counter.
func withRegistryCounter(ctx context.Context) (context.Context, *registryCounter) {
	c := &registryCounter{}
	return context.WithValue(ctx, registryCounterKey{}, c), c
}

// recordVerification verifies the images of an admitted pod controller
// as the mutating webhook leaves it (patches applied) and returns the
// patch adding the signed record to its pod template, or nil when the
// cache is off, the object is no pod controller (Pods are leaves), or
// the verdicts may not be recorded.
func (h *Handler) recordVerification(ctx context.Context, set *policy.Set, d *decoded, patches []engine.Patch) []engine.Patch {
	req := d.req
	if !h.vc.enabled() || req.SubResource != "" || (req.Operation != "CREATE" && req.Operation != "UPDATE") {
		return nil
	}
	kind, _ := d.obj["kind"].(string)
	if _, ok := podspec.MetadataPath(kind); !ok || kind == "Pod" {
		return nil
	}
	ks, ok := h.vc.opts.Keys()
	if !ok {
		return nil
	}
	obj, err := applyPatches(d.obj, patches)
	if err != nil {
		h.logRequest(ctx, slog.LevelDebug, req, "verification not recorded", slog.String("error", err.Error()))
		return nil
	}
	if req.Operation == "UPDATE" && sameTemplate(kind, obj, d.oldObj) {
		// Writing a record into an unchanged template would change it,
		// and so start a rollout of every Pod: an expired or missing
		// record stays so until the template changes anyway (its
		// children are verified from the registry meanwhile).
		return nil
	}
	pinned := &decoded{req: req, obj: obj, oldObj: d.oldObj}
	if v := h.evaluateSafely(ctx, PathMutate, set, pinned, engine.PhaseVerifyImages); !v.Allowed {
		return nil
	}
	rec, ok := h.vc.record(set, namespaceOf(d), kind, obj, pinned.results)
	if !ok {
		return nil
	}
	value, err := vcache.Seal(rec, ks)
	if err == nil {
		var p []engine.Patch
		if p, err = annotationPatch(kind, obj, value); err == nil {
			h.logRequest(ctx, slog.LevelDebug, req, "verification recorded", slog.Int("images", len(rec.Images)), slog.Int("results", len(rec.Results)))
			return p
		}
	}
	h.logRequest(ctx, slog.LevelWarn, req, "verification not recorded", slog.String("error", err.Error()))
	return nil
}

// sameTemplate reports whether the pod template of obj (as it will be
// stored) equals that of old.
func sameTemplate(kind string, obj, old map[string]any) bool {
	path, ok := podspec.MetadataPath(kind)
	if !ok || old == nil || len(path) < 2 {
		return false
	}
	parent := path[:len(path)-1]
	a, errA := podspec.Lookup(obj, parent)
	b, errB := podspec.Lookup(old, parent)
	return errA == nil && errB == nil && a != nil && reflect.DeepEqual(a, b)
}

// applyPatches returns a copy of obj with the replace operations
// of patches applied (the only operation image pinning makes).
func applyPatches(obj map[string]any, patches []engine.Patch) (map[string]any, error) {
	if len(patches) == 0 {
		return runtime.DeepCopyJSON(obj), nil
	}
	// Mutate rules add and remove fields too: the patch is applied as
	// the API server applies it.
	doc, err := json.Marshal(patches)
	if err != nil {
		return nil, fmt.Errorf("encode patches: %w", err)
	}
	return mutate.ApplyJSONPatch(obj, doc)
}

// replaceAt replaces the value at the JSON pointer of doc.
func replaceAt(doc map[string]any, pointer string, value any) error {
	if !strings.HasPrefix(pointer, "/") {
		return fmt.Errorf("patch path %q is not a JSON pointer", pointer)
	}
	tokens := strings.Split(pointer[1:], "/")
	var cur any = doc
	for i, tok := range tokens {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		last := i == len(tokens)-1
		switch c := cur.(type) {
		case map[string]any:
			if _, ok := c[tok]; !ok {
				return fmt.Errorf("patch path %q: no %q", pointer, tok)
			}
			if last {
				c[tok] = value
				return nil
			}
			cur = c[tok]
		case []any:
			n, err := strconv.Atoi(tok)
			if err != nil || n < 0 || n >= len(c) {
				return fmt.Errorf("patch path %q: bad index %q", pointer, tok)
			}
			if last {
				c[n] = value
				return nil
			}
			cur = c[n]
		default:
			return fmt.Errorf("patch path %q: %q is not in an object or list", pointer, tok)
		}
	}
	return nil
}
