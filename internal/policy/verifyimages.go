package policy

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/keys"
)

// maxAttestorDepth bounds nested attestor sets.
const maxAttestorDepth = 4

// Known fields of the verifyImages objects; a value names why a known field
// is refused ("" when it is supported).
var (
	verifyImagesFields = map[string]string{
		"failureAction": "", "type": "", "imageReferences": "", "skipImageReferences": "",
		"attestors": "", "attestations": "", "repository": "", "cosignOCI11": "",
		"mutateDigest": "", "verifyDigest": "", "required": "", "useCache": "", "validate": "",
		"image":                    "deprecated field is not supported: use imageReferences",
		"key":                      "deprecated field is not supported: use attestors[].entries[].keys",
		"roots":                    "deprecated field is not supported: use attestors[].entries[].keyless.roots",
		"subject":                  "deprecated field is not supported: use attestors[].entries[].keyless.subject",
		"issuer":                   "deprecated field is not supported: use attestors[].entries[].keyless.issuer",
		"additionalExtensions":     "deprecated field is not supported: use attestors[].entries[].keyless.additionalExtensions",
		"annotations":              "deprecated field is not supported: use attestors[].entries[].annotations",
		"imageRegistryCredentials": "imageRegistryCredentials is not supported (registry credentials come from the admission configuration)",
	}
	attestorSetFields = map[string]string{"count": "", "entries": ""}
	attestorFields    = map[string]string{"keys": "", "keyless": "", "certificates": "", "attestor": "",
		"annotations": "", "repository": "", "signatureAlgorithm": ""}
	keysFields = map[string]string{"publicKeys": "", "secret": "", "kms": "", "signatureAlgorithm": "",
		"rekor": "", "ctlog": ""}
	secretFields  = map[string]string{"name": "", "namespace": ""}
	keylessFields = map[string]string{"issuer": "", "issuerRegExp": "", "subject": "", "subjectRegExp": "",
		"roots": "", "additionalExtensions": "", "rekor": "", "ctlog": ""}
	certificatesFields = map[string]string{"cert": "", "certChain": "", "rekor": "", "ctlog": ""}
	rekorFields        = map[string]string{"url": "", "pubkey": "", "ignoreTlog": ""}
	ctlogFields        = map[string]string{"ignoreSCT": "", "pubkey": "", "tsaCertChain": ""}
	attestationFields  = map[string]string{"name": "", "type": "", "predicateType": "", "attestors": "", "conditions": ""}
	ivValidateFields   = map[string]string{"message": "", "deny": ""}
)

// imagePatternRe is the character set of an image reference with wildcards.
var imagePatternRe = regexp.MustCompile(`^[A-Za-z0-9._\-/:@*?\[\]]+$`)

// HasVerifyImages reports whether any policy of the set has a verifyImages
// rule: admission then needs the mutating webhook (digest patches).
func (s *Set) HasVerifyImages() bool {
	for _, p := range s.Policies {
		for _, r := range p.Rules {
			if len(r.Spec.VerifyImages) > 0 {
				return true
			}
		}
	}
	return false
}

// checkRawVerifyImages reports unknown and unsupported fields of a rule's
// verifyImages as written (decoding drops unknown fields silently).
func checkRawVerifyImages(rule, field string, rm map[string]any) Errors {
	raw, ok := rm["verifyImages"]
	if !ok {
		return nil
	}
	var errs Errors
	list, ok := raw.([]any)
	if !ok {
		return Errors{{Rule: rule, Field: field + ".verifyImages", Msg: "verifyImages must be a list"}}
	}
	if _, ok := rm["imageExtractors"]; ok {
		errs = append(errs, &Error{Rule: rule, Field: field + ".imageExtractors", Msg: "imageExtractors are not supported with verifyImages"})
	}
	w := rawWalker{rule: rule}
	for i, it := range list {
		f := fmt.Sprintf("%s.verifyImages[%d]", field, i)
		m := w.object(f, it, verifyImagesFields)
		if m == nil {
			continue
		}
		w.list(f+".attestors", m["attestors"], w.attestorSet)
		w.list(f+".attestations", m["attestations"], func(af string, a any) {
			am := w.object(af, a, attestationFields)
			if am != nil {
				w.list(af+".attestors", am["attestors"], w.attestorSet)
			}
		})
		if v, ok := m["validate"]; ok {
			w.object(f+".validate", v, ivValidateFields)
		}
	}
	return append(errs, w.errs...)
}

// rawWalker checks decoded verifyImages JSON against the known fields.
type rawWalker struct {
	rule string
	errs Errors
}

func (w *rawWalker) fail(field, msg string) {
	w.errs = append(w.errs, &Error{Rule: w.rule, Field: field, Msg: msg})
}

// object checks that v is a mapping with only known fields and returns it.
func (w *rawWalker) object(field string, v any, known map[string]string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		if v != nil {
			w.fail(field, "must be a mapping")
		}
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		why, ok := known[k]
		switch {
		case !ok:
			w.fail(field+"."+k, "unknown field")
		case why != "":
			w.fail(field+"."+k, why)
		}
	}
	return m
}

func (w *rawWalker) list(field string, v any, each func(string, any)) {
	if v == nil {
		return
	}
	items, ok := v.([]any)
	if !ok {
		w.fail(field, "must be a list")
		return
	}
	for i, it := range items {
		each(fmt.Sprintf("%s[%d]", field, i), it)
	}
}

func (w *rawWalker) attestorSet(field string, v any) {
	m := w.object(field, v, attestorSetFields)
	if m == nil {
		return
	}
	w.list(field+".entries", m["entries"], func(ef string, e any) {
		em := w.object(ef, e, attestorFields)
		if em == nil {
			return
		}
		if k, ok := em["keys"]; ok {
			km := w.object(ef+".keys", k, keysFields)
			if km != nil {
				if s, ok := km["secret"]; ok {
					w.object(ef+".keys.secret", s, secretFields)
				}
				w.logs(ef+".keys", km)
			}
		}
		if k, ok := em["keyless"]; ok {
			if km := w.object(ef+".keyless", k, keylessFields); km != nil {
				w.logs(ef+".keyless", km)
			}
		}
		if k, ok := em["certificates"]; ok {
			if km := w.object(ef+".certificates", k, certificatesFields); km != nil {
				w.logs(ef+".certificates", km)
			}
		}
		if n, ok := em["attestor"]; ok && len(strings.Split(field, ".attestor.")) <= maxAttestorDepth {
			w.attestorSet(ef+".attestor", n)
		}
	})
}

func (w *rawWalker) logs(field string, m map[string]any) {
	if r, ok := m["rekor"]; ok {
		w.object(field+".rekor", r, rekorFields)
	}
	if c, ok := m["ctlog"]; ok {
		w.object(field+".ctlog", c, ctlogFields)
	}
}

// checkVerifyImages validates a rule's decoded verifyImages entries of pol.
func (c *compiler) checkVerifyImages(rule, field string, list []kyvernov1.ImageVerification, pol *Policy) Errors {
	v := &ivChecker{c: c, rule: rule}
	if pol.Spec.IsNamespaced() {
		v.namespace = pol.Namespace()
	}
	for i := range list {
		v.entry(fmt.Sprintf("%s.verifyImages[%d]", field, i), &list[i], pol.FailureAction)
	}
	return v.errs
}

type ivChecker struct {
	c    *compiler
	rule string
	// namespace is a namespaced Policy's namespace: its key Secrets must
	// be there ("" for a ClusterPolicy).
	namespace string
	errs      Errors
}

// kmsSchemes are the key URI schemes keys.kms may name: a Secret
// (k8s://namespace/name) or a KMS. Anything else cosign would read as a
// file or fetch as a URL, which a policy must not make the webhook do.
var kmsSchemes = []string{"k8s://", "awskms://", "gcpkms://", "azurekms://", "hashivault://", "pkcs11:"}

// secretNamespace checks that a key Secret's namespace (as written) is the
// namespaced policy's own; values with variables are checked at admission.
func (v *ivChecker) secretNamespace(f, ns string) {
	if v.namespace != "" && ns != "" && !strings.Contains(ns, "{{") && ns != v.namespace {
		v.fail(f, fmt.Sprintf("a Policy in namespace %s can only read key Secrets of its own namespace, not %s", v.namespace, ns), nil)
	}
}

func (v *ivChecker) fail(field, msg string, err error) {
	v.errs = append(v.errs, &Error{Rule: v.rule, Field: field, Msg: msg, Err: err})
}

func (v *ivChecker) entry(f string, iv *kyvernov1.ImageVerification, policyAction string) {
	switch iv.Type {
	case "", kyvernov1.ImageVerificationCosign:
	case kyvernov1.ImageVerificationNotary, kyvernov1.ImageVerificationSigstoreBundle:
		v.fail(f+".type", fmt.Sprintf("type %s is not supported (only Cosign)", iv.Type), nil)
	default:
		v.fail(f+".type", fmt.Sprintf("unknown type %q (want Cosign, Notary or SigstoreBundle)", iv.Type), nil)
	}
	action := policyAction
	if iv.FailureAction != nil {
		a, err := normalizeAction(*iv.FailureAction)
		if err != nil {
			v.fail(f+".failureAction", err.Error(), nil)
		}
		action = a
	}
	if action == Audit && iv.MutateDigestEnabled() {
		v.fail(f+".mutateDigest", "mutateDigest must be set to false for 'Audit' failure action", nil)
	}
	if len(iv.ImageReferences) == 0 {
		v.fail(f+".imageReferences", "at least one image reference is required", nil)
	}
	for i, p := range iv.ImageReferences {
		v.imagePattern(fmt.Sprintf("%s.imageReferences[%d]", f, i), p)
	}
	for i, p := range iv.SkipImageReferences {
		v.imagePattern(fmt.Sprintf("%s.skipImageReferences[%d]", f, i), p)
	}
	if len(iv.Attestors) == 0 && len(iv.Attestations) == 0 {
		v.fail(f, "verifyImages entry needs attestors or attestations", nil)
	}
	if iv.Repository != "" {
		v.fail(f+".repository", "an alternate signature repository is not supported", nil)
	}
	if iv.CosignOCI11 {
		v.fail(f+".cosignOCI11", "cosignOCI11 is not supported", nil)
	}
	for i := range iv.Attestors {
		v.attestorSet(fmt.Sprintf("%s.attestors[%d]", f, i), &iv.Attestors[i], 0)
	}
	for i := range iv.Attestations {
		v.attestation(fmt.Sprintf("%s.attestations[%d]", f, i), &iv.Attestations[i])
	}
	if val := iv.Validation; val != nil {
		v.errs = append(v.errs, v.c.checkStrings(v.rule, f+".validate.message", val.Message)...)
		if val.Deny == nil || val.Deny.Conditions == nil {
			v.fail(f+".validate", "validate needs deny conditions", nil)
		} else {
			v.errs = append(v.errs, v.c.checkConditions(v.rule, f+".validate.deny.conditions", val.Deny.Conditions)...)
		}
	}
}

func (v *ivChecker) imagePattern(f, p string) {
	switch {
	case strings.TrimSpace(p) == "":
		v.fail(f, "empty image reference", nil)
	case strings.Contains(p, "{{"):
		v.fail(f, "variables are not allowed in image references", nil)
	case !imagePatternRe.MatchString(p):
		v.fail(f, fmt.Sprintf("invalid image reference pattern %q (want an image reference with '*' and '?' wildcards)", p), nil)
	}
}

func (v *ivChecker) attestation(f string, a *kyvernov1.Attestation) {
	if a.Type == "" && a.PredicateType == "" {
		v.fail(f+".type", "attestation has no type", nil)
	}
	if a.Type != "" && a.PredicateType != "" && a.Type != a.PredicateType {
		v.fail(f+".predicateType", "predicateType differs from type (predicateType is the deprecated name of type)", nil)
	}
	if len(a.Attestors) == 0 {
		v.fail(f+".attestors", "attestation needs attestors (the public Sigstore instance is not used)", nil)
	}
	for i := range a.Attestors {
		v.attestorSet(fmt.Sprintf("%s.attestors[%d]", f, i), &a.Attestors[i], 0)
	}
	for i, cond := range a.Conditions {
		cf := fmt.Sprintf("%s.conditions[%d]", f, i)
		if _, ok := cond.(map[string]any); !ok {
			v.fail(cf, "conditions must be {any: [...], all: [...]}", nil)
			continue
		}
		v.errs = append(v.errs, v.c.checkConditions(v.rule, cf, cond)...)
	}
}

func (v *ivChecker) attestorSet(f string, as *kyvernov1.AttestorSet, depth int) {
	if len(as.Entries) == 0 {
		v.fail(f+".entries", "attestor set has no entries", nil)
	}
	// Several PEM keys in one entry count as several entries (Kyverno).
	n := 0
	for i := range as.Entries {
		if k := as.Entries[i].Keys; k != nil && !strings.Contains(k.PublicKeys, "{{") {
			if blocks := len(keys.SplitPEM([]byte(k.PublicKeys))); blocks > 1 {
				n += blocks
				continue
			}
		}
		n++
	}
	if as.Count != nil {
		switch {
		case *as.Count < 1:
			v.fail(f+".count", fmt.Sprintf("count must be at least 1, got %d", *as.Count), nil)
		case *as.Count > n && len(as.Entries) > 0:
			v.fail(f+".count", fmt.Sprintf("count %d exceeds the %d entries", *as.Count, n), nil)
		}
	}
	for i := range as.Entries {
		v.attestor(fmt.Sprintf("%s.entries[%d]", f, i), &as.Entries[i], depth)
	}
}

func (v *ivChecker) attestor(f string, a *kyvernov1.Attestor, depth int) {
	n := 0
	for _, set := range []bool{a.Keys != nil, a.Keyless != nil, a.Certificates != nil, len(a.Attestor) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.fail(f, "attestor entry needs exactly one of keys, keyless, certificates and attestor", nil)
	}
	if _, err := keys.ParseHash(a.SignatureAlgorithm); err != nil {
		v.fail(f+".signatureAlgorithm", err.Error(), nil)
	}
	if len(a.Annotations) > 0 {
		v.fail(f+".annotations", "signature annotations are not supported", nil)
	}
	if a.Repository != "" {
		v.fail(f+".repository", "an alternate signature repository is not supported", nil)
	}
	if k := a.Keys; k != nil {
		v.keys(f+".keys", k)
	}
	if k := a.Keyless; k != nil {
		v.keyless(f+".keyless", k)
	}
	if c := a.Certificates; c != nil {
		v.certificates(f+".certificates", c)
	}
	if len(a.Attestor) > 0 {
		nested, err := a.NestedSet()
		switch {
		case err != nil:
			v.fail(f+".attestor", "invalid nested attestor set", err)
		case nested == nil:
			v.fail(f+".attestor", "nested attestor set is empty", nil)
		case depth >= maxAttestorDepth:
			v.fail(f+".attestor", fmt.Sprintf("attestors nested too deeply (limit %d)", maxAttestorDepth), nil)
		default:
			v.attestorSet(f+".attestor", nested, depth+1)
		}
	}
}

func (v *ivChecker) keys(f string, k *kyvernov1.StaticKeyAttestor) {
	n := 0
	for _, set := range []bool{k.PublicKeys != "", k.Secret != nil, k.KMS != ""} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		v.fail(f, "keys needs publicKeys, secret or kms", nil)
	case n > 1:
		v.fail(f, "keys needs exactly one of publicKeys, secret and kms", nil)
	}
	if k.PublicKeys != "" {
		if strings.Contains(k.PublicKeys, "{{") {
			v.errs = append(v.errs, v.c.checkStrings(v.rule, f+".publicKeys", k.PublicKeys)...)
		} else if _, err := keys.ParsePublicKeys([]byte(k.PublicKeys)); err != nil {
			v.fail(f+".publicKeys", "publicKeys is not a PEM public key", err)
		}
	}
	if s := k.Secret; s != nil {
		if s.Name == "" {
			v.fail(f+".secret.name", "secret has no name", nil)
		}
		if s.Namespace == "" {
			v.fail(f+".secret.namespace", "secret has no namespace", nil)
		}
		v.secretNamespace(f+".secret.namespace", s.Namespace)
	}
	if k.KMS != "" && !hasKMSScheme(k.KMS) {
		v.fail(f+".kms", fmt.Sprintf("kms %q is not a key URI (want k8s://namespace/secret, awskms://, gcpkms://, azurekms://, hashivault:// or pkcs11:; files and URLs are not read)", k.KMS), nil)
	}
	if rest, ok := strings.CutPrefix(k.KMS, "k8s://"); ok {
		ns, _, _ := strings.Cut(rest, "/")
		v.secretNamespace(f+".kms", ns)
	}
	if _, err := keys.ParseHash(k.SignatureAlgorithm); err != nil {
		v.fail(f+".signatureAlgorithm", err.Error(), nil)
	}
	v.logs(f, k.Rekor, k.CTLog)
}

func (v *ivChecker) keyless(f string, k *kyvernov1.KeylessAttestor) {
	if k.Roots == "" && k.Issuer == "" && k.IssuerRegExp == "" && k.Subject == "" && k.SubjectRegExp == "" {
		v.fail(f, "keyless needs roots or an issuer and subject", nil)
	}
	for name, re := range map[string]string{"issuerRegExp": k.IssuerRegExp, "subjectRegExp": k.SubjectRegExp} {
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			v.fail(f+"."+name, "invalid regular expression", err)
		}
	}
	if k.Issuer != "" && k.IssuerRegExp != "" {
		v.fail(f, "use either issuer or issuerRegExp, not both", nil)
	}
	if k.Subject != "" && k.SubjectRegExp != "" {
		v.fail(f, "use either subject or subjectRegExp, not both", nil)
	}
	if k.Roots != "" && !strings.Contains(k.Roots, "{{") {
		if _, err := parseCertificates(k.Roots); err != nil {
			v.fail(f+".roots", "roots are not PEM certificates", err)
		}
	}
	v.logs(f, k.Rekor, k.CTLog)
}

func (v *ivChecker) certificates(f string, c *kyvernov1.CertificateAttestor) {
	if c.Certificate == "" && c.CertificateChain == "" {
		v.fail(f, "certificates needs cert or certChain", nil)
	}
	for name, s := range map[string]string{"cert": c.Certificate, "certChain": c.CertificateChain} {
		if s == "" || strings.Contains(s, "{{") {
			continue
		}
		if _, err := parseCertificates(s); err != nil {
			v.fail(f+"."+name, name+" is not a PEM certificate", err)
		}
	}
	v.logs(f, c.Rekor, c.CTLog)
}

func (v *ivChecker) logs(f string, r *kyvernov1.Rekor, c *kyvernov1.CTLog) {
	if r != nil {
		if r.URL == "" && !r.IgnoreTlog {
			v.fail(f+".rekor.url", "rekor needs a url (or ignoreTlog: true)", nil)
		}
		if r.PubKey != "" {
			if _, err := keys.ParsePublicKeys([]byte(r.PubKey)); err != nil {
				v.fail(f+".rekor.pubkey", "rekor pubkey is not a PEM public key", err)
			}
		}
	}
	if c != nil {
		if c.PubKey != "" {
			if _, err := keys.ParsePublicKeys([]byte(c.PubKey)); err != nil {
				v.fail(f+".ctlog.pubkey", "ctlog pubkey is not a PEM public key", err)
			}
		}
		if c.TSACertChain != "" {
			if _, err := parseCertificates(c.TSACertChain); err != nil {
				v.fail(f+".ctlog.tsaCertChain", "tsaCertChain is not PEM certificates", err)
			}
		}
	}
}

// parseCertificates parses PEM certificates, base64-wrapped or not (as
// Kyverno accepts both).
func parseCertificates(s string) ([]*x509.Certificate, error) {
	data := []byte(s)
	if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil {
		data = dec
	}
	return keys.ParseCertificates(data)
}

// hasKMSScheme reports whether a keys.kms value starts with a scheme in
// kmsSchemes.
func hasKMSScheme(kms string) bool {
	for _, p := range kmsSchemes {
		if strings.HasPrefix(kms, p) {
			return true
		}
	}
	return false
}
