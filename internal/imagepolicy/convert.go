package imagepolicy

import (
	sigv1alpha1 "github.com/portcullis/portcullis/api/sigstore/v1alpha1"
	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
)

// ConvertV1alpha1 converts a policy.sigstore.dev/v1alpha1
// ClusterImagePolicy to v1beta1 field by field as policy-controller's
// ConvertTo does: what v1alpha1 has is carried over, except a ctlog
// without url and an rfc3161timestamp without trustRootRef, which
// policy-controller drops; a policy's url becomes remote.url. The result
// has apiVersion v1beta1.
func ConvertV1alpha1(in *sigv1alpha1.ClusterImagePolicy) *sigv1.ClusterImagePolicy {
	out := &sigv1.ClusterImagePolicy{TypeMeta: in.TypeMeta, ObjectMeta: in.ObjectMeta}
	out.APIVersion = sigv1.APIVersion
	s := &in.Spec
	for _, img := range s.Images {
		out.Spec.Images = append(out.Spec.Images, sigv1.ImagePattern{Glob: img.Glob})
	}
	for i := range s.Authorities {
		out.Spec.Authorities = append(out.Spec.Authorities, convertAuthority(&s.Authorities[i]))
	}
	for _, m := range s.Match {
		out.Spec.Match = append(out.Spec.Match, sigv1.MatchResource{Group: m.Group, Version: m.Version, Resource: m.Resource,
			Selector: m.Selector.DeepCopy()})
	}
	out.Spec.Policy = convertPolicy(s.Policy)
	out.Spec.Mode = s.Mode
	return out
}

func convertAuthority(a *sigv1alpha1.Authority) sigv1.Authority {
	out := sigv1.Authority{Name: a.Name}
	if a.CTLog != nil && a.CTLog.URL != "" {
		out.CTLog = &sigv1.TLog{URL: a.CTLog.URL, TrustRootRef: a.CTLog.TrustRootRef}
	}
	if a.RFC3161Timestamp != nil && a.RFC3161Timestamp.TrustRootRef != "" {
		out.RFC3161Timestamp = &sigv1.RFC3161Timestamp{TrustRootRef: a.RFC3161Timestamp.TrustRootRef}
	}
	for _, src := range a.Sources {
		s := sigv1.Source{OCI: src.OCI}
		for _, sps := range src.SignaturePullSecrets {
			s.SignaturePullSecrets = append(s.SignaturePullSecrets, sigv1.LocalObjectReference{Name: sps.Name})
		}
		out.Sources = append(out.Sources, s)
	}
	for _, att := range a.Attestations {
		out.Attestations = append(out.Attestations, sigv1.Attestation{Name: att.Name, PredicateType: att.PredicateType,
			Policy: convertPolicy(att.Policy)})
	}
	out.Key = convertKey(a.Key)
	if k := a.Keyless; k != nil {
		out.Keyless = &sigv1.KeylessRef{URL: k.URL, TrustRootRef: k.TrustRootRef, CACert: convertKey(k.CACert)}
		for _, id := range k.Identities {
			out.Keyless.Identities = append(out.Keyless.Identities, sigv1.Identity{Issuer: id.Issuer, Subject: id.Subject,
				IssuerRegExp: id.IssuerRegExp, SubjectRegExp: id.SubjectRegExp})
		}
	}
	if a.Static != nil {
		out.Static = &sigv1.StaticRef{Action: a.Static.Action}
	}
	return out
}

func convertKey(k *sigv1alpha1.KeyRef) *sigv1.KeyRef {
	if k == nil {
		return nil
	}
	out := &sigv1.KeyRef{Data: k.Data, KMS: k.KMS, HashAlgorithm: k.HashAlgorithm}
	if k.SecretRef != nil {
		out.SecretRef = &sigv1.SecretReference{Name: k.SecretRef.Name, Namespace: k.SecretRef.Namespace}
	}
	return out
}

func convertPolicy(p *sigv1alpha1.Policy) *sigv1.Policy {
	if p == nil {
		return nil
	}
	out := &sigv1.Policy{Type: p.Type, Data: p.Data, FetchConfigFile: p.FetchConfigFile,
		IncludeSpec: p.IncludeSpec, IncludeObjectMeta: p.IncludeObjectMeta, IncludeTypeMeta: p.IncludeTypeMeta}
	if p.URL != "" {
		out.Remote = &sigv1.RemotePolicy{URL: p.URL}
	}
	if c := p.ConfigMapRef; c != nil {
		out.ConfigMapRef = &sigv1.ConfigMapReference{Name: c.Name, Namespace: c.Namespace, Key: c.Key}
	}
	return out
}
