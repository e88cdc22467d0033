package kyvernotest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/source/files"
	"sigs.k8s.io/yaml"
)

// loadedTest is a test file with everything it names loaded.
type loadedTest struct {
	spec      TestFile
	dir       string
	set       *policy.Set
	resources []manifest.Document
	values    *ValuesSpec
	// env is what every evaluation of the test shares: user, values,
	// stores for CEL lookups and namespaces. The operation is set per
	// policy and resource (see inputs).
	env files.Env
	// contextResources are the Context file's cluster resources.
	contextResources []map[string]any
}

func load(file string, attestations policy.AttestationCompiler) (*loadedTest, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read test: %w", err)
	}
	lt := &loadedTest{dir: filepath.Dir(file), set: &policy.Set{}}
	if err := yaml.Unmarshal(data, &lt.spec); err != nil {
		return nil, fmt.Errorf("parse test %s: %w", file, err)
	}
	if err := checkTestFields(file, data); err != nil {
		return nil, err
	}
	if lt.spec.Kind != "" && lt.spec.Kind != "Test" {
		return nil, fmt.Errorf("%s: kind %q is not a Test", file, lt.spec.Kind)
	}
	var errs []error
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(lt.dir, p)
	}
	var policyPaths []string
	for _, p := range lt.spec.Policies {
		policyPaths = append(policyPaths, rel(p))
	}
	set, err := policy.LoadFiles(policyPaths, policy.Options{SkipUnsupported: true, Attestations: attestations})
	if set != nil {
		lt.set = set
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("load policies: %w", err))
	}
	if len(lt.spec.Exceptions) > 0 {
		var paths []string
		for _, p := range lt.spec.Exceptions {
			paths = append(paths, rel(p))
		}
		xs, err := policy.LoadExceptions(paths)
		if err != nil {
			errs = append(errs, fmt.Errorf("load exceptions: %w", err))
		}
		lt.set = lt.set.WithExceptions(append(slices.Clip(lt.set.Exceptions), xs...))
	}
	var resPaths []string
	for _, p := range lt.spec.Resources {
		resPaths = append(resPaths, rel(p))
	}
	chunks, err := files.Read(resPaths, nil)
	docs, derr := chunks.DecodeAll()
	for i := range docs {
		docs[i].Object = defaultNamespace(docs[i].Object)
	}
	lt.resources = docs
	if err := errors.Join(err, derr); err != nil {
		errs = append(errs, fmt.Errorf("load resources: %w", err))
	}
	if lt.spec.Variables != "" {
		v, err := loadValues(rel(lt.spec.Variables))
		if err != nil {
			errs = append(errs, err)
		}
		lt.values = v
	}
	if lt.spec.Values != nil {
		if lt.values == nil {
			lt.values = lt.spec.Values
		} else {
			lt.values = mergeValues(lt.values, lt.spec.Values)
		}
	}
	if lt.spec.Context != "" {
		if err := lt.loadContext(rel(lt.spec.Context)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(lt.contextResources) > 0 || lt.set.UsesCEL() {
		// CEL lookups and params see the Context file's cluster resources
		// and the test's own resources.
		store, err := files.Resources(lt.resources, lt.contextResources...)
		if err != nil {
			errs = append(errs, err)
		} else {
			lt.env.Resources = store
		}
	}
	lt.env.Namespaces = lt.namespaces()
	if lt.values != nil {
		vals := lt.values
		lt.env.Values = engine.ValuesFunc(func(policyName, rule, resource string) map[string]any {
			return vals.merged(policyName, rule, resource)
		})
	}
	if lt.spec.UserInfo != "" {
		u, err := loadUserInfo(rel(lt.spec.UserInfo))
		if err != nil {
			errs = append(errs, err)
		}
		lt.env.UserInfo = u
	}
	return lt, errors.Join(errs...)
}

// inputs builds the input of each resource evaluated against the policy
// named policyName: the test's environment, the operation its values give
// (CREATE by default), and the namespace labels of the values file's
// namespaceSelector.
func (lt *loadedTest) inputs(policyName string) files.Inputs {
	return files.InputsFunc(func(d manifest.Document) engine.Input {
		env := lt.env
		env.Operation = lt.operation(policyName, d.Name())
		in := env.Input(d)
		if lt.values != nil {
			ns := manifest.MetaString(d.Object, "namespace")
			for _, nl := range lt.values.NamespaceSelector {
				if nl.Name == ns {
					in.NamespaceLabels = nl.Labels
				}
			}
		}
		return in
	})
}

// operation returns the request.operation the values give the resource
// named name under the policy named policyName: the policy's resource
// values win over the global values; CREATE when neither sets one.
func (lt *loadedTest) operation(policyName, name string) string {
	op := "CREATE"
	vals := lt.values
	if vals == nil {
		return op
	}
	if v, ok := vals.GlobalValues["request.operation"].(string); ok {
		op = v
	}
	for _, pv := range vals.Policies {
		if pv.Name != policyName {
			continue
		}
		for _, rv := range pv.Resources {
			if rv.Name == name {
				if v, ok := rv.Values["request.operation"].(string); ok {
					op = v
				}
			}
		}
	}
	return op
}

// namespaces returns the Namespace objects resources are placed in: the
// values file's namespaces (the first of a name wins), else the test's
// own Namespace resources.
func (lt *loadedTest) namespaces() map[string]map[string]any {
	out := files.Namespaces(lt.resources)
	if lt.values == nil {
		return out
	}
	seen := map[string]bool{}
	for _, ns := range lt.values.Namespaces {
		name := manifest.MetaString(ns, "name")
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		out[name] = ns
	}
	return out
}

// merged returns global, then resource, then rule values (later wins).
func (v *ValuesSpec) merged(policyName, rule, resource string) map[string]any {
	out := map[string]any{}
	for k, x := range v.GlobalValues {
		out[k] = x
	}
	for _, pv := range v.Policies {
		if pv.Name != policyName {
			continue
		}
		for _, rv := range pv.Resources {
			if rv.Name == resource {
				for k, x := range rv.Values {
					out[k] = x
				}
			}
		}
		for _, rv := range pv.Rules {
			if rv.Name == rule {
				for k, x := range rv.Values {
					out[k] = x
				}
			}
		}
	}
	return out
}

func mergeValues(a, b *ValuesSpec) *ValuesSpec {
	out := *a
	out.GlobalValues = map[string]any{}
	for k, v := range a.GlobalValues {
		out.GlobalValues[k] = v
	}
	for k, v := range b.GlobalValues {
		out.GlobalValues[k] = v
	}
	out.Policies = append(append([]PolicyValues{}, a.Policies...), b.Policies...)
	out.NamespaceSelector = append(append([]NamespaceLabels{}, a.NamespaceSelector...), b.NamespaceSelector...)
	return &out
}

func loadValues(path string) (*ValuesSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read values: %w", err)
	}
	var v ValuesSpec
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("parse values %s: %w", path, err)
	}
	return &v, nil
}

func loadUserInfo(path string) (engine.UserInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return engine.UserInfo{}, fmt.Errorf("read userinfo: %w", err)
	}
	var u UserInfoSpec
	if err := yaml.Unmarshal(data, &u); err != nil {
		return engine.UserInfo{}, fmt.Errorf("parse userinfo %s: %w", path, err)
	}
	return engine.UserInfo{Username: u.UserInfo.Username, UID: u.UserInfo.UID, Groups: u.UserInfo.Groups,
		Roles: u.Roles, ClusterRoles: u.ClusterRoles}, nil
}

// contextSpec is a cli.kyverno.io/v1alpha1 Context: the cluster resources
// and image metadata that CEL lookups see during a test.
type contextSpec struct {
	Spec struct {
		Resources []map[string]any `json:"resources,omitempty"`
		Images    []map[string]any `json:"images,omitempty"`
	} `json:"spec"`
}

func (lt *loadedTest) loadContext(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read context: %w", err)
	}
	var c contextSpec
	if err := yaml.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("parse context %s: %w", path, err)
	}
	lt.contextResources = c.Spec.Resources
	img, err := cel.NewMemoryImages(c.Spec.Images...)
	if err != nil {
		return fmt.Errorf("context %s: images: %w", path, err)
	}
	lt.env.Images = img
	return nil
}

// defaultNamespace places a namespaced resource without a namespace in
// "default", as kyverno test does (and as kubectl would on apply).
func defaultNamespace(obj map[string]any) map[string]any {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if manifest.MetaString(obj, "namespace") != "" || !kinds.Lookup(apiVersion, kind).Namespaced {
		return obj
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	meta := map[string]any{}
	if m, ok := obj["metadata"].(map[string]any); ok {
		for k, v := range m {
			meta[k] = v
		}
	}
	meta["namespace"] = "default"
	out["metadata"] = meta
	return out
}

// checkTestFields checks a test file strictly against TestFile: every
// unknown or mistyped field is reported with its line (a misspelt
// "results" would otherwise leave a suite checking nothing).
func checkTestFields(file string, data []byte) error {
	docs, err := manifest.Decode(file, data)
	if err != nil || len(docs) != 1 {
		return nil // the typed decode above has judged the syntax
	}
	var errs []error
	for _, fe := range manifest.CheckFields(docs[0].Object, &TestFile{}, manifest.StrictOptions{}) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", file, manifest.FieldLine(docs[0].Raw, docs[0].Line, fe.Path), fe.Path, fe.Msg))
	}
	return errors.Join(errs...)
}
