package schema

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// nodeKind is what a schema node accepts.
type nodeKind uint8

const (
	kindAny         nodeKind = iota // anything
	kindObject                      // known fields
	kindMap                         // string keys, values of elem
	kindList                        // values of elem
	kindString                      // a string
	kindInt                         // a whole number
	kindNumber                      // a number
	kindBool                        // a boolean
	kindBytes                       // base64 text
	kindIntOrString                 // a whole number or a string
	kindCustom                      // decoded by custom's UnmarshalJSON
)

// node is one level of a compiled schema. Nodes are immutable once built
// and shared by every validation.
type node struct {
	kind     nodeKind
	fields   map[string]*node // kindObject
	names    []string         // kindObject: field names, for suggestions
	required []string         // kindObject
	// preserve keeps fields the object does not declare (CRD
	// x-kubernetes-preserve-unknown-fields).
	preserve bool
	elem     *node        // kindMap, kindList
	enum     []string     // kindString: allowed values (none: any)
	custom   reflect.Type // kindCustom
}

var (
	anyNode         = &node{kind: kindAny}
	unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	intOrStringType = reflect.TypeOf(intstr.IntOrString{})
	rawType         = reflect.TypeOf(runtime.RawExtension{})
	fieldsV1Type    = reflect.TypeOf(metav1.FieldsV1{})
	jsonType        = reflect.TypeOf(apiextensionsv1.JSON{})
)

// optionalFields are the fields of k8s.io/api types whose JSON tag has no
// omitempty but that the published OpenAPI document (Kubernetes 1.35)
// does not require ("group/version.Type.field").
var optionalFields = map[string]bool{
	"apps/v1.ControllerRevision.data":                                           true,
	"apps/v1.StatefulSetOrdinals.start":                                         true,
	"apps/v1.StatefulSetSpec.serviceName":                                       true,
	"apps/v1.StatefulSetStatus.availableReplicas":                               true,
	"authentication/v1.TokenRequestSpec.boundObjectRef":                         true,
	"authentication/v1.TokenRequestSpec.expirationSeconds":                      true,
	"autoscaling/v2.HorizontalPodAutoscalerStatus.currentMetrics":               true,
	"batch/v1.PodFailurePolicyOnPodConditionsPattern.status":                    true,
	"core/v1.AzureFilePersistentVolumeSource.secretNamespace":                   true,
	"core/v1.ContainerImage.names":                                              true,
	"core/v1.Event.reportingComponent":                                          true,
	"core/v1.Event.reportingInstance":                                           true,
	"core/v1.GRPCAction.service":                                                true,
	"core/v1.NodeRuntimeHandler.name":                                           true,
	"core/v1.ProjectedVolumeSource.sources":                                     true,
	"core/v1.TypedLocalObjectReference.apiGroup":                                true,
	"core/v1.TypedObjectReference.apiGroup":                                     true,
	"discovery/v1.EndpointSlice.ports":                                          true,
	"events/v1.Event.metadata":                                                  true,
	"flowcontrol/v1.FlowSchemaSpec.matchingPrecedence":                          true,
	"flowcontrol/v1.LimitedPriorityLevelConfiguration.nominalConcurrencyShares": true,
	"flowcontrol/v1.QueuingConfiguration.handSize":                              true,
	"flowcontrol/v1.QueuingConfiguration.queueLengthLimit":                      true,
	"flowcontrol/v1.QueuingConfiguration.queues":                                true,
	"flowcontrol/v1.ResourcePolicyRule.namespaces":                              true,
	"networking/v1.IngressClassParametersReference.scope":                       true,
	"networking/v1.NetworkPolicySpec.podSelector":                               true,
	"rbac/v1.ClusterRole.rules":                                                 true,
	"rbac/v1.Role.rules":                                                        true,
	"resource/v1.AllocatedDeviceStatus.conditions":                              true,
	"resource/v1.CapacityRequestPolicy.default":                                 true,
	"resource/v1.DeviceClaim.requests":                                          true,
	"resource/v1.ResourceClaimSpec.devices":                                     true,
	"resource/v1beta1.AllocatedDeviceStatus.conditions":                         true,
	"resource/v1beta1.CapacityRequestPolicy.default":                            true,
	"resource/v1beta1.DeviceClaim.requests":                                     true,
	"resource/v1beta1.DeviceRequest.deviceClassName":                            true,
	"resource/v1beta1.ResourceClaimSpec.devices":                                true,
	"resource/v1beta2.AllocatedDeviceStatus.conditions":                         true,
	"resource/v1beta2.CapacityRequestPolicy.default":                            true,
	"resource/v1beta2.DeviceClaim.requests":                                     true,
	"resource/v1beta2.ResourceClaimSpec.devices":                                true,
	"storage/v1.CSINodeDriver.topologyKeys":                                     true,
}

// typeBuilder compiles Go types into nodes, memoized (recursive types
// such as JSONSchemaProps share their node).
type typeBuilder struct {
	nodes map[reflect.Type]*node
}

func (b *typeBuilder) build(t reflect.Type) *node {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n, ok := b.nodes[t]; ok {
		return n
	}
	switch t {
	case intOrStringType:
		return &node{kind: kindIntOrString}
	case rawType, fieldsV1Type, jsonType:
		return anyNode
	}
	if t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(unmarshalerType) {
		return &node{kind: kindCustom, custom: t}
	}
	switch t.Kind() {
	case reflect.Struct:
		n := &node{kind: kindObject, fields: map[string]*node{}}
		b.nodes[t] = n // before the fields: recursive types end here
		b.addFields(n, t)
		for name := range n.fields {
			n.names = append(n.names, name)
		}
		sort.Strings(n.names)
		sort.Strings(n.required)
		return n
	case reflect.Map:
		return &node{kind: kindMap, elem: b.build(t.Elem())}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &node{kind: kindBytes}
		}
		return &node{kind: kindList, elem: b.build(t.Elem())}
	case reflect.String:
		return &node{kind: kindString}
	case reflect.Bool:
		return &node{kind: kindBool}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &node{kind: kindInt}
	case reflect.Float32, reflect.Float64:
		return &node{kind: kindNumber}
	}
	return anyNode
}

// addFields adds the JSON fields of struct t to n, inlined structs merged.
func (b *typeBuilder) addFields(n *node, t reflect.Type) {
	prefix := strings.TrimPrefix(t.PkgPath(), "k8s.io/api/") + "." + t.Name() + "."
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if name == "" && ft.Kind() == reflect.Struct && (f.Anonymous || strings.Contains(opts, "inline")) {
			b.addFields(n, ft)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := n.fields[name]; dup {
			continue
		}
		n.fields[name] = b.build(f.Type)
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		if !optional && !optionalFields[prefix+name] && strings.HasPrefix(t.PkgPath(), "k8s.io/api/") {
			n.required = append(n.required, name)
		}
	}
}

// fromProps compiles a CRD's structural schema.
func fromProps(p *apiextensionsv1.JSONSchemaProps, meta *node, depth int) *node {
	if p == nil || depth > maxDepth {
		return anyNode
	}
	if p.XIntOrString {
		return &node{kind: kindIntOrString}
	}
	preserve := p.XPreserveUnknownFields != nil && *p.XPreserveUnknownFields
	switch p.Type {
	case "object":
		if p.AdditionalProperties != nil && len(p.Properties) == 0 {
			if p.AdditionalProperties.Schema != nil {
				return &node{kind: kindMap, elem: fromProps(p.AdditionalProperties.Schema, meta, depth+1)}
			}
			if p.AdditionalProperties.Allows {
				return &node{kind: kindMap, elem: anyNode}
			}
		}
		if preserve && len(p.Properties) == 0 {
			return &node{kind: kindMap, elem: anyNode}
		}
		n := &node{kind: kindObject, fields: map[string]*node{}, preserve: preserve}
		for k := range p.Properties {
			s := p.Properties[k]
			n.fields[k] = fromProps(&s, meta, depth+1)
		}
		if p.XEmbeddedResource {
			n.fields["apiVersion"] = &node{kind: kindString}
			n.fields["kind"] = &node{kind: kindString}
			n.fields["metadata"] = meta
		}
		for k := range n.fields {
			n.names = append(n.names, k)
		}
		sort.Strings(n.names)
		n.required = append([]string(nil), p.Required...)
		sort.Strings(n.required)
		return n
	case "array":
		var items *apiextensionsv1.JSONSchemaProps
		if p.Items != nil {
			items = p.Items.Schema
		}
		return &node{kind: kindList, elem: fromProps(items, meta, depth+1)}
	case "string":
		n := &node{kind: kindString}
		for _, e := range p.Enum {
			var s string
			if json.Unmarshal(e.Raw, &s) == nil {
				n.enum = append(n.enum, s)
			}
		}
		return n
	case "integer":
		return &node{kind: kindInt}
	case "number":
		return &node{kind: kindNumber}
	case "boolean":
		return &node{kind: kindBool}
	}
	return anyNode
}
