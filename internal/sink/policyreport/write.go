package policyreport

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
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
		// Items come without their kind: the writes below need it.
		list.Items[i].SetGroupVersionKind(schema.GroupVersionKind{Group: v1alpha2.Group, Version: v1alpha2.Version, Kind: kind})
		existing[list.Items[i].GetName()] = &list.Items[i]
	}
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	for _, r := range reports {
		old, ok := existing[r.Name]
		delete(existing, r.Name)
		switch {
		case !ok:
			u, err := toUnstructured(r)
			if err != nil {
				keep(err)
				continue
			}
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
			if err := w.replace(ctx, old, r); err != nil {
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

// replacement is what replace changes of a report: all a report of
// Build holds but its identity.
type replacement struct {
	Metadata struct {
		// ResourceVersion makes the patch fail on a conflict, as an update
		// would.
		ResourceVersion string            `json:"resourceVersion"`
		Labels          map[string]string `json:"labels,omitempty"`
		Annotations     map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Summary v1alpha2.Summary `json:"summary"`
	// Results replace the listed results whole (a JSON merge patch
	// replaces lists); null removes them.
	Results []v1alpha2.Result `json:"results"`
}

// replace makes the report old (its metadata as listed) say what r says,
// at old's resourceVersion: a JSON merge patch answered with the metadata
// only. An update would send the report converted to maps and read it
// back into maps, 1.2 MB each way for a namespace of 500 Pods, four
// namespaces at a time while the background controller evaluates.
func (w *Writer) replace(ctx context.Context, old *metav1.PartialObjectMetadata, r *v1alpha2.PolicyReport) error {
	var p replacement
	p.Metadata.ResourceVersion = old.GetResourceVersion()
	p.Metadata.Labels, p.Metadata.Annotations = r.Labels, r.Annotations
	p.Summary, p.Results = r.Summary, r.Results
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode report %s/%s: %w", r.Namespace, r.Name, err)
	}
	return w.Client.Patch(ctx, old, client.RawPatch(types.MergePatchType, body))
}

func toUnstructured(r *v1alpha2.PolicyReport) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
	if err != nil {
		return nil, fmt.Errorf("encode report %s/%s: %w", r.Namespace, r.Name, err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}
