package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/portcullis/portcullis/internal/manifest"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
)

// AddCRDs adds the schemas of the CustomResourceDefinitions among docs
// (other documents are ignored) and returns how many it added. A CRD
// that is not a valid apiextensions.k8s.io/v1 CustomResourceDefinition is
// an error naming its file and line; the valid ones are still added.
func (v *Validator) AddCRDs(docs []manifest.Document) (int, error) {
	var errs []error
	n := 0
	for _, d := range docs {
		if d.Kind() != "CustomResourceDefinition" || k8sschema.FromAPIVersionAndKind(d.APIVersion(), d.Kind()).Group != apiextensionsv1.GroupName {
			continue
		}
		if d.APIVersion() != apiextensionsv1.SchemeGroupVersion.String() {
			errs = append(errs, fmt.Errorf("%s: unsupported apiVersion %q (want %s)", d.Location(), d.APIVersion(), apiextensionsv1.SchemeGroupVersion))
			continue
		}
		if ferrs, _ := v.Validate(d.Object); len(ferrs) > 0 {
			lines := manifest.FieldLines(d.Raw, d.Line, paths(ferrs))
			for i, fe := range ferrs {
				errs = append(errs, fmt.Errorf("%s:%d: CustomResourceDefinition %q: %s: %s", d.Source, lines[i], d.Name(), fe.Path, fe.Msg))
			}
			continue
		}
		data, err := json.Marshal(d.Object)
		var crd apiextensionsv1.CustomResourceDefinition
		if err == nil {
			err = json.Unmarshal(data, &crd)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: CustomResourceDefinition %q: %w", d.Location(), d.Name(), err))
			continue
		}
		meta := v.metadata()
		v.mu.Lock()
		for _, ver := range crd.Spec.Versions {
			if ver.Schema == nil || ver.Schema.OpenAPIV3Schema == nil {
				continue
			}
			root := fromProps(ver.Schema.OpenAPIV3Schema, meta, 0)
			if root.kind == kindObject {
				root.fields["apiVersion"] = &node{kind: kindString}
				root.fields["kind"] = &node{kind: kindString}
				root.fields["metadata"] = meta
				root.names = nil
				for k := range root.fields {
					root.names = append(root.names, k)
				}
				sort.Strings(root.names)
			}
			v.crds[k8sschema.GroupVersionKind{Group: crd.Spec.Group, Version: ver.Name, Kind: crd.Spec.Names.Kind}] = root
		}
		v.mu.Unlock()
		n++
	}
	return n, errors.Join(errs...)
}

// LoadCRDs reads CustomResourceDefinitions from files and directories
// (as policy files are read) into v. A path holding none is an error.
func (v *Validator) LoadCRDs(paths []string) error {
	var errs []error
	for _, p := range paths {
		files, err := manifest.ListFiles(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found := 0
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("read %s: %w", f, err))
				continue
			}
			docs, err := manifest.Decode(f, data)
			if err != nil {
				errs = append(errs, err)
			}
			n, err := v.AddCRDs(docs)
			found += n
			if err != nil {
				errs = append(errs, err)
			}
		}
		if found == 0 && len(errs) == 0 {
			errs = append(errs, fmt.Errorf("%s: no CustomResourceDefinition found", p))
		}
	}
	return errors.Join(errs...)
}

func paths(errs []manifest.FieldError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Path
	}
	return out
}
