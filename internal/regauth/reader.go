package regauth

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reader reads the objects that carry pull credentials. A missing object
// must be reported with an error for which
// k8s.io/apimachinery/pkg/api/errors.IsNotFound is true (as the API server,
// client-go and controller-runtime clients and caches do).
type Reader interface {
	// Secret returns the Secret namespace/name.
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	// ServiceAccount returns the ServiceAccount namespace/name.
	ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
}

// ClientReader adapts a controller-runtime client.Reader (a client, or the
// manager's informer cache) to Reader.
func ClientReader(c client.Reader) Reader { return clientReader{c: c} }

// ClientsetReader adapts a client-go clientset to Reader; every call is an
// API request.
func ClientsetReader(cs kubernetes.Interface) Reader { return clientsetReader{cs: cs} }

type clientReader struct{ c client.Reader }

var _ Reader = clientReader{}

func (r clientReader) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := r.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (r clientReader) ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	var sa corev1.ServiceAccount
	if err := r.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &sa); err != nil {
		return nil, err
	}
	return &sa, nil
}

type clientsetReader struct{ cs kubernetes.Interface }

var _ Reader = clientsetReader{}

func (r clientsetReader) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return r.cs.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (r clientsetReader) ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	return r.cs.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
}
