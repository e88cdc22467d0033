package policyreport

import (
	"context"
	"fmt"

	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Writer writes the reports of one namespace at a time through the API
// server. It touches only reports labelled ManagedByLabel=ManagedBy.
type Writer struct {
	// Client reads and writes the reports (a client without a cache is
	// best: reports are read only to compare their hashes).
	Client client.Client
}

// Stats counts what one Sync did.
type Stats struct {
	Created, Updated, Deleted, Unchanged int
}

// Sync makes the namespace's reports (namespace "" : the cluster reports)
// be exactly reports: a report whose content hash did not change is left
// alone, a changed one is updated, a new one created, and a managed report
// no longer wanted deleted. It goes on after a failed write and returns
// the first error.
func (w *Writer) Sync(ctx context.Context, namespace string, reports []*v1alpha2.PolicyReport) (Stats, error) {
	var st Stats
	kind := v1alpha2.KindPolicyReport
	if namespace == "" {
		kind = v1alpha2.KindClusterPolicyReport
	}
	// Only the metadata: the hash annotation says whether a report
	// changed, its results (up to MaxBytes each) need not be read.
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Group: v1alpha2.Group, Version: v1alpha2.Version, Kind: kind + "List"})
	opts := []client.ListOption{client.MatchingLabels{ManagedByLabel: ManagedBy}}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := w.Client.List(ctx, list, opts...); err != nil {
		return st, fmt.Errorf("list %ss in %q: %w", kind, namespace, err)
	}
	existing := map[string]*metav1.PartialObjectMetadata{}
	for i := range list.Items {
		existing[list.Items[i].GetName()] = &list.Items[i]
	}
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	for _, r := range reports {
		u, err := toUnstructured(r)
		if err != nil {
			keep(err)
			continue
		}
		old, ok := existing[r.Name]
		delete(existing, r.Name)
		switch {
		case !ok:
			if err := w.Client.Create(ctx, u); err != nil {
				if !apierrors.IsAlreadyExists(err) {
					keep(fmt.Errorf("create %s %s/%s: %w", kind, namespace, r.Name, err))
					continue
				}
				// Written meanwhile (another writer, a stale list): update.
				cur := &unstructured.Unstructured{}
				cur.SetGroupVersionKind(u.GroupVersionKind())
				if err := w.Client.Get(ctx, client.ObjectKeyFromObject(u), cur); err != nil {
					keep(fmt.Errorf("get %s %s/%s: %w", kind, namespace, r.Name, err))
					continue
				}
				u.SetResourceVersion(cur.GetResourceVersion())
				if err := w.Client.Update(ctx, u); err != nil {
					keep(fmt.Errorf("update %s %s/%s: %w", kind, namespace, r.Name, err))
					continue
				}
				st.Updated++
				continue
			}
			st.Created++
		case old.GetAnnotations()[HashAnnotation] == r.Annotations[HashAnnotation]:
			st.Unchanged++
		default:
			u.SetResourceVersion(old.GetResourceVersion())
			if err := w.Client.Update(ctx, u); err != nil {
				keep(fmt.Errorf("update %s %s/%s: %w", kind, namespace, r.Name, err))
				continue
			}
			st.Updated++
		}
	}
	for name, old := range existing {
		if err := w.Client.Delete(ctx, old); err != nil && !apierrors.IsNotFound(err) {
			keep(fmt.Errorf("delete %s %s/%s: %w", kind, namespace, name, err))
			continue
		}
		st.Deleted++
	}
	return st, first
}

func toUnstructured(r *v1alpha2.PolicyReport) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
	if err != nil {
		return nil, fmt.Errorf("encode report %s/%s: %w", r.Namespace, r.Name, err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}
