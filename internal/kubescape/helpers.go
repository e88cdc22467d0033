package kubescape

// The helper packages Kubescape puts next to every rule (data.cautils,
// data.designators, data.kubernetes.api.client), written for Portcullis
// with the behaviour of Kubescape's: same package paths, same function
// names and results. The API client needs a live cluster and its
// credentials under data.k8sconfig, which a library scan never has: its
// functions are declared, and are undefined without that data, as they
// are in Kubescape when no cluster is configured.

const regoCAUtils = `package cautils

# list_contains is true when element is one of the values of list.
list_contains(list, element) {
	list[_] == element
}

# getPodName is the name of the object the metadata belongs to.
getPodName(metadata) = n {
	n := metadata.name
}

# object_intersection keeps the entries of sub that parent has with the
# same value.
object_intersection(parent, sub) = common {
	common := {k: v | v := sub[k]; parent[k] == v}
}

# is_subobject is true when every entry of sub is in parent.
is_subobject(sub, parent) {
	object_intersection(sub, parent) == sub
}

# unix_permission splits a mode (an integer) into its parts.
unix_permission(mode) = parts {
	parts := {
		"user": unix_permission_from_octal(bits.rsh(mode, 6)),
		"group": unix_permission_from_octal(bits.rsh(mode, 3)),
		"everyone": unix_permission_from_octal(mode),
		"setuid": bits.and(mode, 2048) != 0,
		"setgid": bits.and(mode, 1024) != 0,
		"sticky": bits.and(mode, 512) != 0,
	}
}

# unix_permission_from_octal reads the lowest octal digit of mode.
unix_permission_from_octal(mode) = digit {
	digit := {
		"exec": bits.and(mode, 1) != 0,
		"write": bits.and(mode, 2) != 0,
		"read": bits.and(mode, 4) != 0,
	}
}

is_not_strict_conf_permission(mode) {
	not is_strict_conf_permission(mode)
}

# is_strict_conf_permission: mode is 644 or stricter, with no special bits.
is_strict_conf_permission(mode) {
	p := unix_permission(mode)
	not p.user.exec
	not p.group.write
	not p.group.exec
	not p.everyone.write
	not p.everyone.exec
	not p.setgid
	not p.setuid
	not p.sticky
}

# unix_permissions_allow is true when every bit set in actual is set in
# allow.
unix_permissions_allow(allow, actual) {
	a := unix_permission(allow)
	b := unix_permission(actual)
	_unix_perm_allow(a.setuid, b.setuid)
	_unix_perm_allow(a.setgid, b.setgid)
	_unix_perm_allow(a.sticky, b.sticky)
	names := ["read", "write", "exec"]
	count({n | n := names[_]; not _unix_perm_allow(a.user[n], b.user[n])}) == 0
	count({n | n := names[_]; not _unix_perm_allow(a.group[n], b.group[n])}) == 0
	count({n | n := names[_]; not _unix_perm_allow(a.everyone[n], b.everyone[n])}) == 0
}

_unix_perm_allow(allow, actual) {
	allow == true
}

_unix_perm_allow(allow, actual) {
	allow == actual
}

is_not_strict_conf_ownership(ownership) {
	not is_strict_conf_ownership(ownership)
}

# An ownership the host sensor could not read is not held against the file.
is_strict_conf_ownership(ownership) {
	ownership.err
}

is_strict_conf_ownership(ownership) {
	ownership.uid == 0
	ownership.gid == 0
}
`

const regoDesignators = `package designators

import data.cautils

included_namespaces(namespace) {
	cautils.list_contains(["default"], namespace)
}

excluded_namespaces(namespace) {
	not cautils.list_contains(["excluded"], namespace)
}

forbidden_wlids(wlid) {
	input.forbidden_wlids[_] == wlid
}

filter_k8s_object(obj) = obj
`

const regoKubernetesAPIClient = `package kubernetes.api.client

token := data.k8sconfig.token

host := data.k8sconfig.host

crt_file := data.k8sconfig.crtfile

client_crt_file := data.k8sconfig.clientcrtfile

client_key_file := data.k8sconfig.clientkeyfile

resource_group_mapping := {
	"services": "api/v1",
	"pods": "api/v1",
	"configmaps": "api/v1",
	"secrets": "api/v1",
	"persistentvolumeclaims": "api/v1",
	"serviceaccounts": "api/v1",
	"daemonsets": "apis/apps/v1",
	"deployments": "apis/apps/v1",
	"statefulsets": "apis/apps/v1",
	"replicasets": "apis/apps/v1",
	"horizontalpodautoscalers": "api/autoscaling/v1",
	"jobs": "apis/batch/v1",
	"cronjobs": "apis/batch/v1beta1",
	"ingresses": "api/extensions/v1beta1",
	"networkpolicies": "apis/networking.k8s.io/v1",
	"clusterroles": "apis/rbac.authorization.k8s.io/v1",
	"clusterrolebindings": "apis/rbac.authorization.k8s.io/v1",
	"roles": "apis/rbac.authorization.k8s.io/v1",
	"rolebindings": "apis/rbac.authorization.k8s.io/v1",
}

_request(url) = http.send({
	"url": url,
	"method": "get",
	"headers": {"authorization": token},
	"tls_client_cert_file": client_crt_file,
	"tls_client_key_file": client_key_file,
	"tls_ca_cert_file": crt_file,
	"raise_error": true,
})

query_name_ns(resource, name, namespace) = _request(sprintf("%v/%v/namespaces/%v/%v/%v", [host, resource_group_mapping[resource], namespace, resource, name]))

query_label_selector_ns(resource, selector, namespace) = _request(sprintf("%v/%v/namespaces/%v/%v?labelSelector=%v", [host, resource_group_mapping[resource], namespace, resource, label_map_to_query_string(selector)]))

query_field_selector_ns(resource, field, selector, namespace) = _request(sprintf("%v/%v/namespaces/%v/%v?fieldSelector=%v", [host, resource_group_mapping[resource], namespace, resource, field_transform_to_qry_param(field, selector)]))

query_all(resource) = _request(sprintf("%v/%v/%v", [host, resource_group_mapping[resource], resource]))

query_all_no_auth(resource) = http.send({
	"url": sprintf("%v/%v/namespaces/default/%v", [host, resource_group_mapping[resource], resource]),
	"method": "get",
	"raise_error": true,
	"tls_insecure_skip_verify": true,
})

field_transform_to_qry_param(field, selector) = q {
	prefixed := {concat(".", [field, k]): v | v := selector[k]}
	q := label_map_to_query_string(prefixed)
}

label_map_to_query_string(m) = concat(",", [s | v := m[k]; s := concat("%3D", [k, v])])
`

// helperModules returns the helper packages by module name.
func helperModules() map[string]string {
	return map[string]string{
		"cautils":               regoCAUtils,
		"designators":           regoDesignators,
		"kubernetes.api.client": regoKubernetesAPIClient,
	}
}
