package imagepolicy

import (
	"crypto"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/keys"
)

// Accepted values, as in policy-controller.
var (
	// kmsSchemes are the KMS providers policy-controller accepts.
	kmsSchemes     = []string{"awskms://", "azurekms://", "hashivault://", "gcpkms://"}
	predicateTypes = map[string]bool{
		"custom": true, "slsaprovenance": true, "spdx": true, "spdxjson": true,
		"cyclonedx": true, "link": true, "vuln": true,
	}
	matchResources = map[string]bool{
		"replicasets": true, "deployments": true, "pods": true, "cronjobs": true,
		"jobs": true, "statefulsets": true, "daemonsets": true,
	}
	signatureFormats = map[string]bool{"": true, "legacy": true, "bundle": true}
)

// problem is one validation failure before it is located in a document.
type problem struct {
	field, msg string
}

type validator struct {
	opts     Options
	problems []problem
	// unchecked are the attestation policies not compiled (no
	// Options.Attestations).
	unchecked []string
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, problem{field: field, msg: fmt.Sprintf(format, args...)})
}

func idx(base string, i int) string { return fmt.Sprintf("%s[%d]", base, i) }

// present lists the names of the set fields among names/set pairs.
func present(pairs ...any) []string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i+1].(bool) {
			out = append(out, pairs[i].(string))
		}
	}
	return out
}

func (v *validator) spec(s *sigv1.ClusterImagePolicySpec) {
	const base = "spec"
	if len(s.Images) == 0 {
		v.add(base+".images", "at least one image glob is required")
	}
	for i, img := range s.Images {
		f := idx(base+".images", i) + ".glob"
		if img.Glob == "" {
			v.add(f, "glob is required")
			continue
		}
		if _, err := CompileGlob(img.Glob); err != nil {
			v.add(f, "%v", err)
		}
	}
	if len(s.Authorities) == 0 && !v.opts.AllowEmptyAuthorities {
		v.add(base+".authorities", "at least one authority is required")
	}
	names := map[string]int{}
	for i := range s.Authorities {
		a := &s.Authorities[i]
		f := idx(base+".authorities", i)
		v.authority(f, a)
		n := authorityName(a, i)
		if prev, dup := names[n]; dup {
			v.add(f+".name", "duplicate authority name %q (also spec.authorities[%d])", n, prev)
		} else {
			names[n] = i
		}
	}
	if s.Mode != "" && s.Mode != sigv1.ModeEnforce && s.Mode != sigv1.ModeWarn {
		v.add(base+".mode", "unsupported mode %q (want enforce or warn)", s.Mode)
	}
	for i := range s.Match {
		v.match(idx(base+".match", i), &s.Match[i])
	}
	if s.Policy != nil {
		v.policy(base+".policy", s.Policy, true)
	}
}

func authorityName(a *sigv1.Authority, i int) string {
	if a.Name != "" {
		return a.Name
	}
	return fmt.Sprintf("authority-%d", i)
}

func (v *validator) match(f string, m *sigv1.MatchResource) {
	if m.Resource != "" && !matchResources[m.Resource] {
		v.add(f+".resource", "unsupported resource %q (want one of pods, deployments, replicasets, statefulsets, daemonsets, jobs, cronjobs)", m.Resource)
	}
	if m.Selector != nil {
		if m.Group == "" && m.Version == "" && m.Resource == "" {
			v.add(f+".selector", "a selector needs a group, version or resource to apply to")
		}
		if _, err := metav1.LabelSelectorAsSelector(m.Selector); err != nil {
			v.add(f+".selector", "invalid label selector: %v", err)
		}
	}
}

func (v *validator) authority(f string, a *sigv1.Authority) {
	kinds := present("key", a.Key != nil, "keyless", a.Keyless != nil, "static", a.Static != nil)
	if len(kinds) == 0 {
		// policy-controller refuses an authority with none of the three,
		// rfc3161timestamp or not: a timestamp verifies when a signature
		// was made, not who made it.
		v.add(f, "expected exactly one of key, keyless, static, got none")
		return
	}
	if len(kinds) > 1 {
		v.add(f, "expected exactly one of key, keyless, static, got %s", strings.Join(kinds, ", "))
		return
	}
	if a.Static != nil && a.RFC3161Timestamp != nil {
		v.add(f, "static cannot be combined with rfc3161timestamp")
		return
	}
	if a.Key != nil {
		v.keyRef(f+".key", a.Key, false)
	}
	if a.Keyless != nil {
		v.keyless(f+".keyless", a.Keyless)
	}
	if a.Static != nil {
		v.static(f+".static", a.Static)
		if len(a.Attestations) > 0 {
			v.add(f+".attestations", "static cannot be combined with attestations")
		}
		if len(a.Sources) > 0 {
			v.add(f+".source", "static cannot be combined with source")
		}
		if a.CTLog != nil {
			v.add(f+".ctlog", "static cannot be combined with ctlog")
		}
	}
	for i := range a.Sources {
		v.source(idx(f+".source", i), &a.Sources[i])
	}
	if a.CTLog != nil && a.CTLog.URL != "" {
		if err := checkURL(a.CTLog.URL); err != nil {
			v.add(f+".ctlog.url", "%v", err)
		}
	}
	for i := range a.Attestations {
		v.attestation(idx(f+".attestations", i), &a.Attestations[i])
	}
	if !signatureFormats[a.SignatureFormat] {
		v.add(f+".signatureFormat", "unsupported signature format %q (want legacy or bundle)", a.SignatureFormat)
	}
}

func (v *validator) static(f string, s *sigv1.StaticRef) {
	switch s.Action {
	case "":
		v.add(f+".action", "action is required (pass or fail)")
	case sigv1.StaticActionPass, sigv1.StaticActionFail:
	default:
		v.add(f+".action", "unsupported action %q (want pass or fail)", s.Action)
	}
}

// keyRef checks a key (or, when caCert, a keyless CA certificate).
func (v *validator) keyRef(f string, k *sigv1.KeyRef, caCert bool) {
	kinds := present("data", k.Data != "", "kms", k.KMS != "", "secretRef", k.SecretRef != nil)
	switch {
	case len(kinds) == 0:
		v.add(f, "expected exactly one of data, kms, secretRef, got none")
	case len(kinds) > 1:
		v.add(f, "expected exactly one of data, kms, secretRef, got %s", strings.Join(kinds, ", "))
	}
	if k.HashAlgorithm != "" {
		if _, err := HashAlgorithm(k.HashAlgorithm); err != nil {
			v.add(f+".hashAlgorithm", "%v", err)
		}
	}
	if k.Data != "" {
		var err error
		if caCert {
			err = checkPEMCertOrKey(k.Data)
		} else {
			_, err = keys.ParsePublicKeys([]byte(k.Data))
		}
		if err != nil {
			v.add(f+".data", "%v", err)
		}
	}
	if k.KMS != "" {
		if err := checkKMS(k.KMS); err != nil {
			v.add(f+".kms", "%v", err)
		}
	}
	if k.SecretRef != nil && k.SecretRef.Name == "" {
		v.add(f+".secretRef.name", "secret name is required")
	}
}

func (v *validator) keyless(f string, k *sigv1.KeylessRef) {
	if k.URL != "" && k.CACert != nil {
		v.add(f, "expected exactly one of url, ca-cert, got both")
	}
	if k.URL != "" {
		if err := checkURL(k.URL); err != nil {
			v.add(f+".url", "%v", err)
		}
	}
	if k.CACert != nil {
		v.keyRef(f+".ca-cert", k.CACert, true)
	}
	if len(k.Identities) == 0 {
		v.add(f+".identities", "at least one identity is required")
	}
	for i := range k.Identities {
		v.identity(idx(f+".identities", i), &k.Identities[i])
	}
}

func (v *validator) identity(f string, id *sigv1.Identity) {
	if id.Issuer != "" && id.IssuerRegExp != "" {
		v.add(f, "expected exactly one of issuer, issuerRegExp, got both")
	}
	if id.Subject != "" && id.SubjectRegExp != "" {
		v.add(f, "expected exactly one of subject, subjectRegExp, got both")
	}
	if id.IssuerRegExp != "" {
		if _, err := regexp.Compile(id.IssuerRegExp); err != nil {
			v.add(f+".issuerRegExp", "invalid regular expression: %v", err)
		}
	}
	if id.SubjectRegExp != "" {
		if _, err := regexp.Compile(id.SubjectRegExp); err != nil {
			v.add(f+".subjectRegExp", "invalid regular expression: %v", err)
		}
	}
	if id.Subject == "" && id.SubjectRegExp == "" {
		v.add(f, "one of subject, subjectRegExp is required")
	}
	if id.Issuer == "" && id.IssuerRegExp == "" {
		v.add(f, "one of issuer, issuerRegExp is required")
	}
}

func (v *validator) source(f string, s *sigv1.Source) {
	if s.OCI != "" {
		if err := checkOCI(s.OCI); err != nil {
			v.add(f+".oci", "invalid OCI repository %q: %v", s.OCI, err)
		}
	}
	for i, sec := range s.SignaturePullSecrets {
		if sec.Name == "" {
			v.add(idx(f+".signaturePullSecrets", i)+".name", "secret name is required")
		}
	}
}

func (v *validator) attestation(f string, a *sigv1.Attestation) {
	if a.Name == "" {
		v.add(f+".name", "attestation name is required")
	}
	switch {
	case a.PredicateType == "":
		v.add(f+".predicateType", "predicateType is required")
	case predicateTypes[a.PredicateType]:
	default:
		if _, err := url.ParseRequestURI(a.PredicateType); err != nil {
			v.add(f+".predicateType", "unsupported predicate type %q (want custom, slsaprovenance, spdx, spdxjson, cyclonedx, link, vuln or a URL)", a.PredicateType)
		}
	}
	if a.Policy != nil {
		v.policy(f+".policy", a.Policy, false)
	}
}

// policy checks a CUE/Rego policy; inSpec is true for spec.policy, the only
// place the fetch/include switches are allowed.
func (v *validator) policy(f string, p *sigv1.Policy, inSpec bool) {
	switch {
	case p.Type == sigv1.PolicyTypeCEL && inSpec:
		v.add(f+".type", "cel policies apply to attestations only (want cue or rego here)")
	case p.Type != sigv1.PolicyTypeCue && p.Type != sigv1.PolicyTypeRego && p.Type != sigv1.PolicyTypeCEL:
		v.add(f+".type", "unsupported policy type %q (want cue, rego or cel)", p.Type)
	case p.Data != "" && !inSpec && v.opts.Attestations == nil:
		v.unchecked = append(v.unchecked, f+".data")
	case p.Data != "" && !inSpec:
		// Compile now, so a broken policy is refused at load (and by lint)
		// rather than denying every image at admission.
		if err := v.opts.Attestations(p.Type, p.Data); err != nil {
			v.add(f+".data", "%v", err)
		}
	}
	srcs := present("data", p.Data != "", "configMapRef", p.ConfigMapRef != nil, "remote", p.Remote != nil)
	switch {
	case len(srcs) == 0:
		v.add(f, "expected exactly one of data, configMapRef, remote, got none")
	case len(srcs) > 1:
		v.add(f, "expected exactly one of data, configMapRef, remote, got %s", strings.Join(srcs, ", "))
	}
	if c := p.ConfigMapRef; c != nil {
		if c.Name == "" {
			v.add(f+".configMapRef.name", "configMap name is required")
		}
		if c.Key == "" {
			v.add(f+".configMapRef.key", "configMap key is required")
		}
	}
	if r := p.Remote; r != nil {
		if r.URL == "" {
			v.add(f+".remote.url", "url is required")
		} else if err := checkURL(r.URL); err != nil {
			v.add(f+".remote.url", "%v", err)
		}
	}
	if !inSpec {
		for _, x := range []struct {
			name string
			set  bool
		}{
			{"fetchConfigFile", p.FetchConfigFile != nil},
			{"includeSpec", p.IncludeSpec != nil},
			{"includeObjectMeta", p.IncludeObjectMeta != nil},
			{"includeTypeMeta", p.IncludeTypeMeta != nil},
		} {
			if x.set {
				v.add(f+"."+x.name, "only allowed in spec.policy")
			}
		}
	}
}

// HashAlgorithm maps a key's hashAlgorithm to its hash as
// policy-controller does: case and surrounding space are ignored, "" means
// sha256.
func HashAlgorithm(s string) (crypto.Hash, error) {
	return keys.ParseHash(strings.ToLower(strings.TrimSpace(s)))
}

// checkPEMCertOrKey accepts PEM certificates (a chain) or public keys,
// whichever the first block is.
func checkPEMCertOrKey(data string) error {
	if t := keys.FirstBlockType([]byte(data)); t != "" && t != "CERTIFICATE" {
		_, err := keys.ParsePublicKeys([]byte(data))
		return err
	}
	_, err := keys.ParseCertificates([]byte(data))
	return err
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL: %w", err)
	}
	if u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("invalid URL %q: an absolute URL with scheme and host is required", s)
	}
	return nil
}

// checkOCI accepts a registry ("registry.example.com") or a repository
// ("registry.example.com/signatures").
func checkOCI(s string) error {
	first, _, hasRepo := strings.Cut(s, "/")
	if hasRepo && strings.ContainsAny(first, ".:") {
		_, err := name.NewRepository(s, name.StrictValidation)
		return err
	}
	_, err := name.NewRegistry(s, name.StrictValidation)
	return err
}

// AWS KMS key forms policy-controller accepts.
var (
	awsUUID   = `m?r?k?-?[A-Fa-f0-9]{8}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{12}`
	awsARN    = `arn:(?:aws|aws-us-gov):kms:[a-z0-9-]+:\d{12}:`
	awsKeyRes = []*regexp.Regexp{
		regexp.MustCompile(`^awskms://[^/]*/` + awsUUID + `$`),
		regexp.MustCompile(`^awskms://[^/]*/` + awsARN + `key/` + awsUUID + `$`),
		regexp.MustCompile(`^awskms://[^/]*/alias/.*$`),
		regexp.MustCompile(`^awskms://[^/]*/` + awsARN + `alias/.*$`),
	}
)

func checkKMS(s string) error {
	known := false
	for _, p := range kmsSchemes {
		if strings.HasPrefix(s, p) {
			known = true
		}
	}
	if !known {
		return fmt.Errorf("unsupported KMS reference %q (want one of the schemes %s)", s, strings.Join(kmsSchemes, ", "))
	}
	if !strings.HasPrefix(s, "awskms://") {
		return nil
	}
	ok := false
	for _, re := range awsKeyRes {
		if re.MatchString(s) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("malformed AWS KMS reference %q: want awskms://[ENDPOINT]/KEY-ID, ALIAS or ARN", s)
	}
	parts := strings.Split(s, "/")
	endpoint := parts[2]
	if endpoint != "" {
		if strings.HasPrefix(endpoint, "arn") || strings.HasPrefix(endpoint, "alias") {
			return fmt.Errorf("malformed AWS KMS reference %q: the key is in the endpoint position (use awskms:///...)", s)
		}
		if _, _, err := net.SplitHostPort(endpoint); err != nil {
			return fmt.Errorf("malformed AWS KMS endpoint %q: %v", endpoint, err)
		}
	}
	// Like policy-controller, only key and alias ARNs are accepted: bare
	// key IDs and alias names need region configuration it cannot see.
	arn := strings.SplitN(parts[3], ":", 6)
	if len(arn) != 6 || arn[0] != "arn" || (arn[5] != "key" && arn[5] != "alias") {
		return fmt.Errorf("AWS KMS reference %q must name a key ARN or an alias ARN", s)
	}
	return nil
}
