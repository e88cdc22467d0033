package regauth

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
)

// PullSecretsKeychain returns a function giving the credentials the
// kubelet would use for a pod spec (decoded JSON) in namespace: its
// imagePullSecrets, or (when it lists none) those of its service account,
// read through r. It returns the keychain (nil when there are no
// credentials), a scope naming the credentials (for caches keyed by
// requester) and warnings. A lookup that fails (RBAC, API server down)
// leaves the caller anonymous with a warning: if the registry needs
// credentials the verification then fails, closed. The function has the
// shape of engine.KeychainFunc.
func PullSecretsKeychain(r Reader) func(ctx context.Context, namespace string, podSpec map[string]any) (authn.Keychain, string, []string) {
	return func(ctx context.Context, namespace string, podSpec map[string]any) (authn.Keychain, string, []string) {
		if podSpec == nil || namespace == "" {
			return nil, "", nil
		}
		var spec corev1.PodSpec
		// Only the two fields the keychain needs; a malformed spec is the
		// API server's business (it refuses it).
		raw, err := json.Marshal(map[string]any{
			"serviceAccountName": podSpec["serviceAccountName"],
			"imagePullSecrets":   podSpec["imagePullSecrets"],
		})
		if err == nil {
			err = json.Unmarshal(raw, &spec)
		}
		if err != nil {
			return nil, "", []string{fmt.Sprintf("image pull secrets unreadable, verifying anonymously: %v", err)}
		}
		kr, warns, err := ForPodSpec(ctx, r, namespace, &spec)
		if err != nil {
			return nil, "", append(warns, fmt.Sprintf("image pull secrets unavailable, verifying anonymously: %v", err))
		}
		names := make([]string, 0, len(spec.ImagePullSecrets))
		for _, s := range spec.ImagePullSecrets {
			names = append(names, s.Name)
		}
		sort.Strings(names)
		sa := spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		if kr == nil || kr.Len() == 0 {
			return nil, "", warns
		}
		return kr, namespace + "/" + sa + "/" + strings.Join(names, ","), warns
	}
}
