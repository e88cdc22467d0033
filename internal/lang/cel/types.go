package cel

import (
	apiservercel "k8s.io/apiserver/pkg/cel"
)

// Variable names of the admission environment.
const (
	varObject          = "object"
	varOldObject       = "oldObject"
	varNamespaceObject = "namespaceObject"
	varRequest         = "request"
	varParams          = "params"
	varVariables       = "variables"
	varAuthorizer      = "authorizer"
	varRequestAuthz    = "authorizer.requestResource"
)

// declObject builds an object DeclType from (name, type, required) triples.
type declField struct {
	name     string
	typ      *apiservercel.DeclType
	required bool
}

func declObject(name string, fields ...declField) *apiservercel.DeclType {
	m := make(map[string]*apiservercel.DeclField, len(fields))
	for _, f := range fields {
		m[f.name] = apiservercel.NewDeclField(f.name, f.typ, f.required, nil, nil)
	}
	return apiservercel.NewObjectType(name, m)
}

// requestDeclType is the type of `request`: the admission.k8s.io/v1
// AdmissionRequest as the API server declares it for CEL (no uid, and no
// object/oldObject, which are top-level variables).
func requestDeclType() *apiservercel.DeclType {
	str, list := apiservercel.StringType, apiservercel.NewListType
	gvk := declObject("kubernetes.GroupVersionKind",
		declField{"group", str, true}, declField{"version", str, true}, declField{"kind", str, true})
	gvr := declObject("kubernetes.GroupVersionResource",
		declField{"group", str, true}, declField{"version", str, true}, declField{"resource", str, true})
	userInfo := declObject("kubernetes.UserInfo",
		declField{"username", str, false},
		declField{"uid", str, false},
		declField{"groups", list(str, -1), false},
		declField{"extra", apiservercel.NewMapType(str, list(str, -1), -1), false})
	return declObject("kubernetes.AdmissionRequest",
		declField{"kind", gvk, true},
		declField{"resource", gvr, true},
		declField{"subResource", str, false},
		declField{"requestKind", gvk, true},
		declField{"requestResource", gvr, true},
		declField{"requestSubResource", str, false},
		declField{"name", str, true},
		declField{"namespace", str, false},
		declField{"operation", str, true},
		declField{"userInfo", userInfo, true},
		declField{"dryRun", apiservercel.BoolType, false},
		declField{"options", apiservercel.DynType, false})
}

// namespaceDeclType is the type of `namespaceObject`: the fields of a
// Namespace the API server exposes to CEL.
func namespaceDeclType() *apiservercel.DeclType {
	str, ts, strList := apiservercel.StringType, apiservercel.TimestampType, apiservercel.NewListType(apiservercel.StringType, -1)
	strMap := apiservercel.NewMapType(str, str, -1)
	condition := declObject("kubernetes.NamespaceCondition",
		declField{"status", str, true}, declField{"type", str, true},
		declField{"lastTransitionTime", ts, true}, declField{"message", str, true}, declField{"reason", str, true})
	metadata := declObject("kubernetes.NamespaceMetadata",
		declField{"name", str, true},
		declField{"generateName", str, true},
		declField{"namespace", str, true},
		declField{"labels", strMap, true},
		declField{"annotations", strMap, true},
		declField{"UID", str, true},
		declField{"creationTimestamp", ts, true},
		declField{"deletionGracePeriodSeconds", apiservercel.IntType, true},
		declField{"deletionTimestamp", ts, true},
		declField{"generation", apiservercel.IntType, true},
		declField{"resourceVersion", str, true},
		declField{"finalizers", strList, true})
	return declObject("kubernetes.Namespace",
		declField{"metadata", metadata, true},
		declField{"spec", declObject("kubernetes.NamespaceSpec", declField{"finalizers", strList, true}), true},
		declField{"status", declObject("kubernetes.NamespaceStatus",
			declField{"conditions", apiservercel.NewListType(condition, -1), true},
			declField{"phase", str, true}), true})
}
