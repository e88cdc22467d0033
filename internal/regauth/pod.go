package regauth

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ErrLookup reports that a pull secret or service account could not be
// read for a reason other than its absence (API error, RBAC, timeout). The
// caller decides: failing open would drop credentials silently.
var ErrLookup = errors.New("reading pull credentials")

// DefaultServiceAccount is the service account of a pod that names none.
const DefaultServiceAccount = "default"

// ForPod builds the keyring the kubelet would use for pod's images: see
// ForPodSpec. The pod's namespace is used (an empty one is an error).
func ForPod(ctx context.Context, r Reader, pod *corev1.Pod) (*Keyring, []string, error) {
	if pod == nil {
		return nil, nil, errors.New("regauth: nil pod")
	}
	return ForPodSpec(ctx, r, pod.Namespace, &pod.Spec)
}

// ForPodSpec builds the keyring for a pod spec in namespace (a Pod's, or a
// workload's pod template). The credentials come from spec's
// imagePullSecrets; when it lists none, from the imagePullSecrets of its
// service account (spec.serviceAccountName, default "default"), which is
// what the ServiceAccount admission plugin copies into a Pod before the
// kubelet sees it. Missing secrets, a missing service account and unusable
// secrets are skipped and reported in the returned warnings; an error
// wrapping ErrLookup means an object could not be read at all.
func ForPodSpec(ctx context.Context, r Reader, namespace string, spec *corev1.PodSpec) (*Keyring, []string, error) {
	if spec == nil {
		return nil, nil, errors.New("regauth: nil pod spec")
	}
	if namespace == "" {
		return nil, nil, errors.New("regauth: pod spec without a namespace")
	}
	names := refNames(spec.ImagePullSecrets)
	var warns []string
	if len(names) == 0 {
		sa := serviceAccountName(spec)
		acct, err := r.ServiceAccount(ctx, namespace, sa)
		switch {
		case apierrors.IsNotFound(err):
			warns = append(warns, fmt.Sprintf("service account %s/%s not found; its pull secrets are not used", namespace, sa))
		case err != nil:
			return nil, nil, fmt.Errorf("%w: service account %s/%s: %w", ErrLookup, namespace, sa, err)
		default:
			names = refNames(acct.ImagePullSecrets)
		}
	}
	k, w, err := fromSecrets(ctx, r, namespace, names)
	return k, append(warns, w...), err
}

// FromSecrets builds a keyring from the named pull secrets in namespace, in
// order, skipping missing and unusable ones with a warning.
func FromSecrets(ctx context.Context, r Reader, namespace string, names ...string) (*Keyring, []string, error) {
	return fromSecrets(ctx, r, namespace, names)
}

func fromSecrets(ctx context.Context, r Reader, namespace string, names []string) (*Keyring, []string, error) {
	k := &Keyring{}
	var warns []string
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" {
			warns = append(warns, "pull secret reference without a name; skipped")
			continue
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		s, err := r.Secret(ctx, namespace, n)
		switch {
		case apierrors.IsNotFound(err):
			warns = append(warns, fmt.Sprintf("pull secret %s/%s not found; skipped", namespace, n))
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("%w: secret %s/%s: %w", ErrLookup, namespace, n, err)
		}
		warns = append(warns, addSecret(k, s)...)
	}
	return k, warns, nil
}

// FromPullSecrets builds a keyring from Secrets already read, in order
// (e.g. from a manifest file), skipping unusable ones with a warning.
func FromPullSecrets(secrets ...*corev1.Secret) (*Keyring, []string) {
	k := &Keyring{}
	var warns []string
	for _, s := range secrets {
		if s != nil {
			warns = append(warns, addSecret(k, s)...)
		}
	}
	return k, warns
}

func serviceAccountName(spec *corev1.PodSpec) string {
	switch {
	case spec.ServiceAccountName != "":
		return spec.ServiceAccountName
	case spec.DeprecatedServiceAccount != "":
		return spec.DeprecatedServiceAccount
	default:
		return DefaultServiceAccount
	}
}

func refNames(refs []corev1.LocalObjectReference) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.Name)
	}
	return out
}
