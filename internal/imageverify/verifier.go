package imageverify

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/keyref"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Errors returned by the Verifier; test them with errors.Is. Every returned
// error also names the image.
var (
	// ErrNoSignatures: the image has no cosign signature (no .sig tag, or
	// one with no signature layer).
	ErrNoSignatures = errors.New("no signatures found")
	// ErrSignatureMismatch: signatures exist but none verifies with the key
	// for this digest (wrong key, tampered payload, signature made for
	// another digest).
	ErrSignatureMismatch = errors.New("no signature matches the key")
	// ErrRegistry: the registry could not be used: unreachable, timed out
	// (the context's deadline), rate limited (429) or failing (5xx). Errors
	// caused by the context also match context.DeadlineExceeded or
	// context.Canceled.
	ErrRegistry = errors.New("registry error")
	// ErrNotFound: the registry answered that the image does not exist.
	ErrNotFound = errors.New("image not found")
	// ErrInvalidKey: the public key is not a PEM public key cosign can
	// verify with (package keys says what is wrong).
	ErrInvalidKey = errors.New("invalid public key")
	// ErrUntrusted: signatures carry certificates, but none is trusted for
	// the check: issued by an unknown CA, identity (issuer/subject)
	// mismatch, missing or unknown SCT, missing or unverifiable
	// transparency-log entry, or expired without proof of signing time.
	ErrUntrusted = errors.New("certificate not trusted")
)

// Defaults for the zero values of Options.
const (
	DefaultTTL         = 5 * time.Minute
	DefaultNegativeTTL = 30 * time.Second
	// DefaultTagTTL is how long a tag's resolved digest is reused.
	DefaultTagTTL       = 30 * time.Second
	DefaultMaxEntries   = 10000
	DefaultFetchTimeout = 30 * time.Second
)

// DefaultRetryBackoff is the retry policy used when Options.RetryBackoff is
// nil: two attempts 100ms apart, so a retried 429 or 5xx still fits in an
// admission deadline.
var DefaultRetryBackoff = remote.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 2}

// Options configures a Verifier. The zero value is usable: anonymous access
// over the default transport with the default cache settings.
type Options struct {
	// Keychain supplies registry credentials; nil means anonymous access.
	Keychain authn.Keychain
	// Transport is the HTTP transport for registry requests; nil means
	// remote.DefaultTransport. Retries are layered on top of it.
	Transport http.RoundTripper
	// RetryBackoff is the retry policy for transient failures (network
	// errors, 408, 429, 5xx); nil means DefaultRetryBackoff. Steps: 1
	// disables retries.
	RetryBackoff *remote.Backoff
	// Insecure allows plain HTTP to registries that are not on loopback or
	// a private network (those use HTTP already).
	Insecure bool
	// TTL is how long a successful verification is cached (default
	// DefaultTTL; negative disables caching of successes).
	TTL time.Duration
	// NegativeTTL is how long a verification failure (ErrNoSignatures,
	// ErrSignatureMismatch) is cached (default DefaultNegativeTTL; negative
	// disables). Registry errors and not-found are never cached as
	// verdicts (registry faults are remembered briefly: FaultTTL).
	NegativeTTL time.Duration
	// MaxEntries bounds the cache (default DefaultMaxEntries).
	MaxEntries int
	// TagTTL is how long a tag's resolved digest is reused, so a cached
	// verdict for a tag reference needs no registry request (default
	// DefaultTagTTL; negative disables: every tag is resolved). A tag moved
	// to another digest is seen after at most TagTTL.
	TagTTL time.Duration
	// FetchTimeout bounds a registry fetch when the caller's context has no
	// deadline (default DefaultFetchTimeout).
	FetchTimeout time.Duration
	// Now is the clock used for cache expiry; nil means time.Now.
	Now func() time.Time
	// TrustRoots are sigstore trusted_root.json documents by name, for
	// keyless authorities' trustRootRef.
	TrustRoots map[string][]byte
	// FaultTTL is how long a registry fault (unreachable, no answer, 429,
	// 5xx) is remembered per repository so that the next caller fails at
	// once with the same message instead of waiting again (default
	// DefaultFaultTTL; negative disables). Answers that depend on the
	// caller's credentials are never remembered, and a timeout fails fast
	// only callers with at most twice the time already waited (see
	// faultMemory).
	FaultTTL time.Duration
	// Secrets reads the Secrets of key.secretRef authorities (nil: such
	// authorities fail). SecretNamespace is used for a secretRef without
	// a namespace (policy-controller reads them from its own namespace).
	Secrets         keyref.SecretReader
	SecretNamespace string
}

// Result is the verdict for one image and key.
type Result struct {
	// Digest is the image's manifest digest ("sha256:…").
	Digest string
	// Verified is true when at least one signature verified with the key.
	Verified bool
	// Reason explains the verdict in a sentence that names the image.
	Reason string
	// Cached is true when the verdict came from the cache.
	Cached bool
	// Attestations are the verified DSSE envelopes (JSON) when the check
	// asked for attestations; decoding and predicate policies are up to
	// the caller (see package attest).
	Attestations [][]byte
}

// Verifier resolves and verifies images. It is safe for concurrent use.
type Verifier struct {
	opts     Options
	cache    *cache
	verify   flight[Result]
	resolve  flight[resolved]
	tags     *cache // tag -> digest, as Result.Digest
	keyless  keylessCache
	policies policyCache
	keys     keyFingerprints
	faults   *faultMemory
}

type resolved struct {
	digest name.Digest
	puller *remote.Puller
	rec    *recorder
}

// New returns a Verifier with opts, defaults filled in.
func New(opts Options) *Verifier {
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.NegativeTTL == 0 {
		opts.NegativeTTL = DefaultNegativeTTL
	}
	if opts.TagTTL == 0 {
		opts.TagTTL = DefaultTagTTL
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	if opts.Transport == nil {
		opts.Transport = remote.DefaultTransport
	}
	if opts.RetryBackoff == nil {
		b := DefaultRetryBackoff
		opts.RetryBackoff = &b
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FaultTTL == 0 {
		opts.FaultTTL = DefaultFaultTTL
	}
	return &Verifier{opts: opts, cache: newCache(opts.MaxEntries, opts.Now), tags: newCache(opts.MaxEntries, opts.Now),
		faults: newFaultMemory(opts.FaultTTL, defaultMaxFaults, opts.Now)}
}

// CacheLen reports the number of cached verdicts (expired ones included
// until they are next looked up or evicted).
func (v *Verifier) CacheLen() int { return v.cache.len() }

// Resolve returns the manifest digest of ref ("sha256:…"). A digest
// reference is returned as is, and a tag resolved within TagTTL is
// answered from memory, without a registry request; otherwise the tag is
// resolved with a HEAD request, falling back to GET when HEAD fails for a
// reason other than an unavailable registry or a missing image.
// Concurrent resolutions of one reference share one request.
func (v *Verifier) Resolve(ctx context.Context, ref string, opts ...CallOption) (string, error) {
	call := imagepolicy.ApplyCallOptions(opts)
	r, err := v.parse(ref)
	if err != nil {
		return "", err
	}
	if d, ok := v.knownDigest(r); ok {
		return d.DigestStr(), nil
	}
	rc, err := v.startResolve(ctx, r, ref, call)
	if err != nil {
		return "", err
	}
	res, err := rc.wait(ctx)
	if err != nil {
		return "", classify(ref, err, nil, ctx)
	}
	return res.digest.DigestStr(), nil
}

// VerifyKey verifies that ref is signed with cosign by the key in
// publicKeyPEM (a PEM "PUBLIC KEY" block: ECDSA, RSA or Ed25519). It is
// Verify with a Check holding that one key.
func (v *Verifier) VerifyKey(ctx context.Context, ref string, publicKeyPEM []byte) (Result, error) {
	return v.Verify(ctx, ref, Check{Keys: [][]byte{publicKeyPEM}})
}

// Verify checks ref against c: it resolves ref, fetches the cosign
// signatures (from the "sha256-<digest>.sig" tag) or, when c asks for
// attestations, the attestations (".att" tag), and verifies them offline.
// The verdict is cached per (repository, digest, c's fingerprint);
// concurrent calls for the same image and check share one registry fetch.
// On failure the Result still carries the digest when it was resolved,
// Verified is false and the error matches one of the package's Err values.
func (v *Verifier) Verify(ctx context.Context, ref string, c Check, opts ...CallOption) (Result, error) {
	call := imagepolicy.ApplyCallOptions(opts)
	r, err := v.parse(ref)
	if err != nil {
		return Result{}, err
	}
	fp, err := c.fingerprint(v.keys.fingerprint)
	if err != nil {
		return Result{}, fmt.Errorf("imageverify: %s: %w", ref, err)
	}

	// Fast path: a digest reference (or a tag resolved within TagTTL) with
	// a cached verdict needs no request; without one it needs no
	// resolution either.
	d, known := v.knownDigest(r)
	if known {
		if res, err, ok := v.cache.get(cacheKey(d, fp)); ok {
			res.Cached = true
			return res, err
		}
	}

	// Resolution is shared by concurrent callers with the same reference
	// and credentials; its puller (connection, ping and token) is reused
	// for the signature fetch, so a cold verification of a tag costs one
	// fetch sequence.
	var res resolved
	if !known {
		rc, err := v.startResolve(ctx, r, ref, call)
		if err != nil {
			return Result{}, err
		}
		if res, err = rc.wait(ctx); err != nil {
			return Result{}, classify(ref, err, nil, ctx)
		}
		d = res.digest
	}

	key := cacheKey(d, fp)
	if res, err, ok := v.cache.get(key); ok {
		res.Cached = true
		return res, err
	}
	repo := d.Context().String()
	if err := v.faults.check(ctx, repo, ref, v.opts.FetchTimeout); err != nil {
		return Result{Digest: d.DigestStr()}, err
	}
	vc := v.verify.start(key, func() (Result, error) {
		fctx, cancel := detach(ctx, v.opts.FetchTimeout)
		defer cancel()
		start := v.opts.Now()
		p, rec := res.puller, res.rec
		if p == nil {
			var err error
			if p, rec, err = v.newPuller(call.Keychain); err != nil {
				return Result{Digest: d.DigestStr()}, err
			}
		}
		out, err := v.verifyDigest(fctx, ref, d, c, p, rec)
		if errors.Is(err, ErrRegistry) {
			v.faults.record(fctx, repo, start, err)
		} else {
			v.faults.forget(repo)
		}
		switch {
		case err == nil:
			v.cache.put(key, out, nil, v.opts.TTL)
		case errors.Is(err, ErrNoSignatures), errors.Is(err, ErrSignatureMismatch), errors.Is(err, ErrUntrusted):
			v.cache.put(key, out, err, v.opts.NegativeTTL)
		}
		return out, err
	})
	out, err := vc.wait(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrRegistry) {
		return Result{Digest: d.DigestStr()}, classify(ref, err, nil, ctx)
	}
	return out, err
}

// startResolve starts (or joins) the shared resolution of r, unless a
// fault of its repository is remembered: then it returns that fault.
func (v *Verifier) startResolve(ctx context.Context, r name.Reference, ref string, call imagepolicy.CallOptions) (*flightCall[resolved], error) {
	repo := r.Context().String()
	if err := v.faults.check(ctx, repo, ref, v.opts.FetchTimeout); err != nil {
		return nil, err
	}
	return v.resolve.start(r.String()+"|"+call.Scope, func() (resolved, error) {
		fctx, cancel := detach(ctx, v.opts.FetchTimeout)
		defer cancel()
		start := v.opts.Now()
		p, rec, err := v.newPuller(call.Keychain)
		if err != nil {
			return resolved{}, err
		}
		d, err := v.resolveWith(fctx, r, p)
		if err != nil {
			err = classify(ref, err, rec, fctx)
			v.faults.record(fctx, repo, start, err)
			return resolved{}, err
		}
		v.faults.forget(repo)
		v.rememberTag(r, d)
		return resolved{digest: d, puller: p, rec: rec}, nil
	}), nil
}

// knownDigest returns the digest of a digest reference, or of a tag
// resolved within TagTTL.
func (v *Verifier) knownDigest(r name.Reference) (name.Digest, bool) {
	switch t := r.(type) {
	case name.Digest:
		return t, true
	case name.Tag:
		if res, err, ok := v.tags.get(t.String()); ok && err == nil {
			if d, err := name.NewDigest(t.Context().String()+"@"+res.Digest, name.WeakValidation); err == nil {
				return d, true
			}
		}
	}
	return name.Digest{}, false
}

// rememberTag records a tag's resolved digest for TagTTL.
func (v *Verifier) rememberTag(r name.Reference, d name.Digest) {
	if t, ok := r.(name.Tag); ok && v.opts.TagTTL > 0 {
		v.tags.put(t.String(), Result{Digest: d.DigestStr()}, nil, v.opts.TagTTL)
	}
}

func (v *Verifier) verifyDigest(ctx context.Context, ref string, d name.Digest, c Check, p *remote.Puller, rec *recorder) (Result, error) {
	out := Result{Digest: d.DigestStr()}
	base := cosign.CheckOpts{
		IgnoreTlog: true,
		IgnoreSCT:  true,
		Offline:    true,
		RegistryClientOpts: []ociremote.Option{
			ociremote.WithRemoteOptions(remote.WithContext(ctx), remote.Reuse(p)),
		},
	}
	// Without a claim verifier cosign accepts a valid signature made for
	// any digest: the payload must name this image's digest.
	if c.Attestations {
		base.ClaimVerifier = cosign.IntotoSubjectClaimVerifier
	} else {
		base.ClaimVerifier = cosign.SimpleClaimVerifier
	}
	var opts []*cosign.CheckOpts
	for _, k := range c.Keys {
		verifier, err := loadVerifier(k, c.Hash)
		if err != nil {
			return out, fmt.Errorf("imageverify: %s: %w", ref, err)
		}
		co := base
		co.SigVerifier = verifier
		opts = append(opts, &co)
	}
	if c.Certificates != nil {
		co := base
		if err := c.Certificates.Apply(&co); err != nil {
			return out, fmt.Errorf("imageverify: %s: %w: %v", ref, ErrUntrusted, err)
		}
		co.ClaimVerifier = base.ClaimVerifier
		co.RegistryClientOpts = base.RegistryClientOpts
		opts = append(opts, &co)
	}
	if len(opts) == 0 {
		return out, fmt.Errorf("imageverify: %s: check has neither keys nor certificate trust", ref)
	}

	// Any key (or the certificate trust) verifying is enough; the first
	// error is kept as the reason unless a later one is more telling.
	var firstErr error
	for _, co := range opts {
		var checked []oci.Signature
		var err error
		if c.Attestations {
			checked, _, err = cosign.VerifyImageAttestations(ctx, d, co)
		} else {
			checked, _, err = cosign.VerifyImageSignatures(ctx, d, co)
		}
		if err == nil {
			out.Verified = true
			what := "signatures"
			if c.Attestations {
				what = "attestations"
				for _, sig := range checked {
					env, err := sig.Payload()
					if err != nil {
						return Result{Digest: out.Digest}, fmt.Errorf("imageverify: %s: %w: reading a verified attestation: %v", ref, ErrRegistry, err)
					}
					out.Attestations = append(out.Attestations, env)
				}
			}
			out.Reason = fmt.Sprintf("%s@%s: %d of its %s verified", d.Context(), d.DigestStr(), len(checked), what)
			return out, nil
		}
		err = classify(ref, err, rec, ctx)
		if c.Attestations && errors.Is(err, ErrNotFound) {
			// The image resolved: a missing ".att" tag means no attestations.
			err = fmt.Errorf("imageverify: %s: %w: no attestations", ref, ErrNoSignatures)
		}
		if errors.Is(err, ErrRegistry) {
			out.Reason = err.Error()
			return out, err
		}
		if co.SigVerifier == nil && errors.Is(err, ErrSignatureMismatch) {
			if why := certificateReason(err); why != "" {
				err = fmt.Errorf("imageverify: %s: %w: %s", ref, ErrUntrusted, why)
			}
		}
		if firstErr == nil || (errors.Is(firstErr, ErrNoSignatures) && !errors.Is(err, ErrNoSignatures)) {
			firstErr = err
		}
	}
	out.Reason = firstErr.Error()
	return out, firstErr
}

// loadVerifier parses a PEM public key (its first block, as cosign reads
// a key) for hash (zero: SHA-256).
func loadVerifier(publicKeyPEM []byte, hash crypto.Hash) (signature.Verifier, error) {
	if hash == 0 {
		hash = crypto.SHA256
	}
	k, err := keys.ParsePublicKey(publicKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	verifier, err := signature.LoadVerifier(k.Public, hash)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return verifier, nil
}

func (v *Verifier) parse(ref string) (name.Reference, error) {
	var nopts []name.Option
	if v.opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("imageverify: %q: %w", ref, err)
	}
	return r, nil
}

// newPuller returns a puller for one fetch sequence and the recorder that
// sees every registry response it gets.
func (v *Verifier) newPuller(kc authn.Keychain) (*remote.Puller, *recorder, error) {
	rec := &recorder{base: v.opts.Transport}
	ropts := []remote.Option{
		remote.WithTransport(rec),
		remote.WithRetryBackoff(*v.opts.RetryBackoff),
	}
	if kc == nil {
		kc = v.opts.Keychain
	}
	if kc != nil {
		ropts = append(ropts, remote.WithAuthFromKeychain(kc))
	}
	p, err := remote.NewPuller(ropts...)
	return p, rec, err
}

func (v *Verifier) resolveWith(ctx context.Context, r name.Reference, p *remote.Puller) (name.Digest, error) {
	if d, ok := r.(name.Digest); ok {
		return d, nil
	}
	desc, err := remote.Head(r, remote.WithContext(ctx), remote.Reuse(p))
	if err != nil {
		if registryUnavailable(err) || statusOf(err) == http.StatusNotFound || ctx.Err() != nil {
			return name.Digest{}, err
		}
		gd, gerr := remote.Get(r, remote.WithContext(ctx), remote.Reuse(p))
		if gerr != nil {
			return name.Digest{}, gerr
		}
		desc = &gd.Descriptor
	}
	return r.Context().Digest(desc.Digest.String()), nil
}

func cacheKey(d name.Digest, fp string) string {
	return d.Context().String() + "@" + d.DigestStr() + "|" + fp
}

// keyFingerprints remembers the fingerprints of the PEM keys seen, so a
// warm verification does not parse and re-encode its keys on every call.
// Keys come from policies, so there are few; past maxKeyFingerprints new
// ones are computed without being remembered.
type keyFingerprints struct {
	mu sync.Mutex
	m  map[string]string
}

const maxKeyFingerprints = 1024

func (k *keyFingerprints) fingerprint(publicKeyPEM []byte) (string, error) {
	k.mu.Lock()
	fp, ok := k.m[string(publicKeyPEM)]
	k.mu.Unlock()
	if ok {
		return fp, nil
	}
	fp, err := fingerprint(publicKeyPEM)
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]string{}
	}
	if len(k.m) < maxKeyFingerprints {
		k.m[string(publicKeyPEM)] = fp
	}
	k.mu.Unlock()
	return fp, nil
}

// fingerprint returns the hex SHA-256 of the key's PKIX DER encoding.
func fingerprint(publicKeyPEM []byte) (string, error) {
	k, err := keys.ParsePublicKey(publicKeyPEM)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return k.Fingerprint(), nil
}

// recorder remembers the outcome of the blob requests of a fetch sequence.
// cosign folds errors met while fetching signature payloads (blobs) into
// its "no matching signatures" error; the recorder lets classify report
// those as registry errors instead of mismatches. Per URL only the last
// outcome counts, so a retry that succeeded clears the failure.
type recorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	blobs map[string]error
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if !strings.Contains(req.URL.Path, "/blobs/") {
		return resp, err
	}
	var failure error
	switch {
	case err != nil:
		failure = err
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		failure = fmt.Errorf("%s %s: unexpected status code %d %s", req.Method, req.URL.Redacted(), resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	r.mu.Lock()
	if r.blobs == nil {
		r.blobs = make(map[string]error)
	}
	r.blobs[req.URL.String()] = failure
	r.mu.Unlock()
	return resp, err
}

// failure returns a blob request failure that no retry fixed, if any.
func (r *recorder) failure() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.blobs {
		if err != nil {
			return err
		}
	}
	return nil
}

// classify maps an error from go-containerregistry or cosign to the
// package's errors, naming the image. Errors already classified pass
// through.
func classify(ref string, err error, rec *recorder, ctx context.Context) error {
	for _, known := range []error{ErrRegistry, ErrNoSignatures, ErrSignatureMismatch, ErrNotFound, ErrInvalidKey, ErrUntrusted} {
		if errors.Is(err, known) {
			return err
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return fmt.Errorf("imageverify: %s: %w: no answer before the context ended: %w", ref, ErrRegistry, ctxErr)
		}
		return fmt.Errorf("imageverify: %s: %w: %w (%v)", ref, ErrRegistry, ctxErr, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("imageverify: %s: %w: %w", ref, ErrRegistry, err)
	}
	var noSigs *cosign.ErrNoSignaturesFound
	var noMatch *cosign.ErrNoMatchingSignatures
	var tagNotFound *cosign.ErrImageTagNotFound
	var noAtt *cosign.ErrNoMatchingAttestations
	switch {
	case errors.As(err, &noAtt):
		if f := rec.failure(); f != nil {
			return fmt.Errorf("imageverify: %s: %w: %v", ref, ErrRegistry, f)
		}
		if strings.TrimSpace(strings.TrimPrefix(err.Error(), "no matching attestations:")) == "" {
			return fmt.Errorf("imageverify: %s: %w: no attestations", ref, ErrNoSignatures)
		}
		return fmt.Errorf("imageverify: %s: %w: %v", ref, ErrSignatureMismatch, err)
	case errors.As(err, &noSigs):
		if f := rec.failure(); f != nil {
			return fmt.Errorf("imageverify: %s: %w: %v", ref, ErrRegistry, f)
		}
		return fmt.Errorf("imageverify: %s: %w", ref, ErrNoSignatures)
	case errors.As(err, &noMatch):
		if f := rec.failure(); f != nil {
			return fmt.Errorf("imageverify: %s: %w: %v", ref, ErrRegistry, f)
		}
		return fmt.Errorf("imageverify: %s: %w: %v", ref, ErrSignatureMismatch, err)
	case errors.As(err, &tagNotFound), statusOf(err) == http.StatusNotFound:
		return fmt.Errorf("imageverify: %s: %w: %v", ref, ErrNotFound, err)
	}
	// Anything else (network errors, 429, 5xx, 401/403, malformed
	// responses) means the registry could not give a usable answer.
	if s := statusOf(err); s == http.StatusUnauthorized || s == http.StatusForbidden {
		return fmt.Errorf("imageverify: %s: %w (HTTP %d %s, %w): %v", ref, ErrRegistry, s, http.StatusText(s), errCredentials, err)
	} else if s != 0 {
		return fmt.Errorf("imageverify: %s: %w (HTTP %d %s): %v", ref, ErrRegistry, s, http.StatusText(s), err)
	}
	return fmt.Errorf("imageverify: %s: %w: %v", ref, ErrRegistry, err)
}

func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

// registryUnavailable reports errors that a GET retry would not fix.
func registryUnavailable(err error) bool {
	if s := statusOf(err); s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500 {
		return true
	}
	var netErr net.Error
	var urlErr *url.Error
	return errors.As(err, &netErr) || errors.As(err, &urlErr)
}
