{{/*
OpenAPI v3 schema of ClusterPolicy and Policy (version v1), written for
Portcullis from the fields of api/kyverno/v1 and of kyverno.io/v1.

It is structural: every node has a type, except the free-form parts of a
Kyverno policy (patterns, anyPatterns, conditions, preconditions, variable
values, assert trees), which accept any JSON value and are marked
x-kubernetes-preserve-unknown-fields. Objects of the Kyverno API also keep
fields this schema does not list, so a kyverno.io/v1 policy from any
Kyverno release is stored unchanged (and `kubectl apply`'s strict field
validation accepts it) after only its apiVersion is changed.
*/}}

{{- define "portcullis.crd.labelSelector" -}}
type: object
properties:
  matchLabels:
    type: object
    additionalProperties:
      type: string
  matchExpressions:
    type: array
    items:
      type: object
      required: [key, operator]
      properties:
        key:
          type: string
        operator:
          type: string
        values:
          type: array
          items:
            type: string
x-kubernetes-map-type: atomic
{{- end -}}

{{- define "portcullis.crd.anyValue" -}}
x-kubernetes-preserve-unknown-fields: true
{{- end -}}

{{- define "portcullis.crd.openObject" -}}
type: object
x-kubernetes-preserve-unknown-fields: true
{{- end -}}

{{- define "portcullis.crd.stringList" -}}
type: array
items:
  type: string
{{- end -}}

{{- define "portcullis.crd.failureActionOverrides" -}}
type: array
items:
  type: object
  x-kubernetes-preserve-unknown-fields: true
  properties:
    action:
      type: string
      enum: [audit, enforce, Audit, Enforce]
    namespaces:
      {{- include "portcullis.crd.stringList" . | nindent 6 }}
    namespaceSelector:
      {{- include "portcullis.crd.labelSelector" . | nindent 6 }}
{{- end -}}

{{- define "portcullis.crd.resourceDescription" -}}
type: object
x-kubernetes-preserve-unknown-fields: true
properties:
  kinds:
    {{- include "portcullis.crd.stringList" . | nindent 4 }}
  name:
    type: string
  names:
    {{- include "portcullis.crd.stringList" . | nindent 4 }}
  namespaces:
    {{- include "portcullis.crd.stringList" . | nindent 4 }}
  annotations:
    type: object
    additionalProperties:
      type: string
  operations:
    type: array
    items:
      type: string
      enum: [CREATE, CONNECT, UPDATE, DELETE]
  selector:
    {{- include "portcullis.crd.labelSelector" . | nindent 4 }}
  namespaceSelector:
    {{- include "portcullis.crd.labelSelector" . | nindent 4 }}
{{- end -}}

{{- define "portcullis.crd.userInfoProperties" -}}
roles:
  {{- include "portcullis.crd.stringList" . | nindent 2 }}
clusterRoles:
  {{- include "portcullis.crd.stringList" . | nindent 2 }}
subjects:
  type: array
  items:
    type: object
    required: [kind, name]
    properties:
      kind:
        type: string
      apiGroup:
        type: string
      name:
        type: string
      namespace:
        type: string
resources:
  {{- include "portcullis.crd.resourceDescription" . | nindent 2 }}
{{- end -}}

{{/* match and exclude blocks. */}}
{{- define "portcullis.crd.matchResources" -}}
type: object
x-kubernetes-preserve-unknown-fields: true
properties:
  any:
    type: array
    items:
      type: object
      x-kubernetes-preserve-unknown-fields: true
      properties:
        {{- include "portcullis.crd.userInfoProperties" . | nindent 8 }}
  all:
    type: array
    items:
      type: object
      x-kubernetes-preserve-unknown-fields: true
      properties:
        {{- include "portcullis.crd.userInfoProperties" . | nindent 8 }}
  {{- include "portcullis.crd.userInfoProperties" . | nindent 2 }}
{{- end -}}

{{- define "portcullis.crd.context" -}}
type: array
items:
  type: object
  required: [name]
  x-kubernetes-preserve-unknown-fields: true
  properties:
    name:
      type: string
    variable:
      type: object
      x-kubernetes-preserve-unknown-fields: true
      properties:
        value:
          {{- include "portcullis.crd.anyValue" . | nindent 10 }}
        jmesPath:
          type: string
        default:
          {{- include "portcullis.crd.anyValue" . | nindent 10 }}
    configMap:
      {{- include "portcullis.crd.openObject" . | nindent 6 }}
    apiCall:
      {{- include "portcullis.crd.openObject" . | nindent 6 }}
    imageRegistry:
      {{- include "portcullis.crd.openObject" . | nindent 6 }}
    globalReference:
      {{- include "portcullis.crd.openObject" . | nindent 6 }}
{{- end -}}

{{- define "portcullis.crd.deny" -}}
type: object
x-kubernetes-preserve-unknown-fields: true
properties:
  conditions:
    {{- include "portcullis.crd.anyValue" . | nindent 4 }}
{{- end -}}

{{/* validate.foreach entries; nested foreach lists are free-form. */}}
{{- define "portcullis.crd.forEach" -}}
type: array
items:
  type: object
  x-kubernetes-preserve-unknown-fields: true
  properties:
    list:
      type: string
    elementScope:
      type: boolean
    context:
      {{- include "portcullis.crd.context" . | nindent 6 }}
    preconditions:
      {{- include "portcullis.crd.anyValue" . | nindent 6 }}
    pattern:
      {{- include "portcullis.crd.anyValue" . | nindent 6 }}
    anyPattern:
      {{- include "portcullis.crd.anyValue" . | nindent 6 }}
    deny:
      {{- include "portcullis.crd.deny" . | nindent 6 }}
    foreach:
      {{- include "portcullis.crd.anyValue" . | nindent 6 }}
{{- end -}}

{{- define "portcullis.crd.validate" -}}
type: object
x-kubernetes-preserve-unknown-fields: true
properties:
  message:
    type: string
  failureAction:
    type: string
    enum: [Audit, Enforce]
  failureActionOverrides:
    {{- include "portcullis.crd.failureActionOverrides" . | nindent 4 }}
  allowExistingViolations:
    type: boolean
  pattern:
    {{- include "portcullis.crd.anyValue" . | nindent 4 }}
  anyPattern:
    {{- include "portcullis.crd.anyValue" . | nindent 4 }}
  deny:
    {{- include "portcullis.crd.deny" . | nindent 4 }}
  foreach:
    {{- include "portcullis.crd.forEach" . | nindent 4 }}
  podSecurity:
    type: object
    x-kubernetes-preserve-unknown-fields: true
    properties:
      level:
        type: string
        enum: [privileged, baseline, restricted]
      version:
        type: string
      exclude:
        type: array
        items:
          type: object
          required: [controlName]
          x-kubernetes-preserve-unknown-fields: true
          properties:
            controlName:
              type: string
            images:
              {{- include "portcullis.crd.stringList" . | nindent 14 }}
            restrictedField:
              type: string
            values:
              {{- include "portcullis.crd.stringList" . | nindent 14 }}
  cel:
    {{- include "portcullis.crd.openObject" . | nindent 4 }}
  manifests:
    {{- include "portcullis.crd.openObject" . | nindent 4 }}
  assert:
    {{- include "portcullis.crd.anyValue" . | nindent 4 }}
{{- end -}}

{{- define "portcullis.crd.rule" -}}
type: object
required: [name]
x-kubernetes-preserve-unknown-fields: true
properties:
  name:
    type: string
    maxLength: 63
  context:
    {{- include "portcullis.crd.context" . | nindent 4 }}
  match:
    {{- include "portcullis.crd.matchResources" . | nindent 4 }}
  exclude:
    {{- include "portcullis.crd.matchResources" . | nindent 4 }}
  imageExtractors:
    {{- include "portcullis.crd.openObject" . | nindent 4 }}
  preconditions:
    {{- include "portcullis.crd.anyValue" . | nindent 4 }}
  celPreconditions:
    type: array
    items:
      {{- include "portcullis.crd.openObject" . | nindent 6 }}
  validate:
    {{- include "portcullis.crd.validate" . | nindent 4 }}
  mutate:
    {{- include "portcullis.crd.openObject" . | nindent 4 }}
  generate:
    {{- include "portcullis.crd.openObject" . | nindent 4 }}
  verifyImages:
    type: array
    items:
      {{- include "portcullis.crd.openObject" . | nindent 6 }}
  skipBackgroundRequests:
    type: boolean
  reportProperties:
    type: object
    additionalProperties:
      type: string
{{- end -}}

{{- define "portcullis.crd.schema" -}}
type: object
required: [spec]
properties:
  apiVersion:
    type: string
  kind:
    type: string
  metadata:
    type: object
  spec:
    type: object
    x-kubernetes-preserve-unknown-fields: true
    properties:
      rules:
        type: array
        items:
          {{- include "portcullis.crd.rule" . | nindent 10 }}
      validationFailureAction:
        type: string
        enum: [audit, enforce, Audit, Enforce]
      validationFailureActionOverrides:
        {{- include "portcullis.crd.failureActionOverrides" . | nindent 8 }}
      background:
        type: boolean
      admission:
        type: boolean
      emitWarning:
        type: boolean
      failurePolicy:
        type: string
        enum: [Ignore, Fail]
      webhookTimeoutSeconds:
        type: integer
        format: int32
        minimum: 1
        maximum: 30
      applyRules:
        type: string
        enum: [One, All]
      schemaValidation:
        type: boolean
      useServerSideApply:
        type: boolean
      mutateExistingOnPolicyUpdate:
        type: boolean
      generateExisting:
        type: boolean
      generateExistingOnPolicyUpdate:
        type: boolean
      webhookConfiguration:
        {{- include "portcullis.crd.openObject" . | nindent 8 }}
  status:
    {{- include "portcullis.crd.openObject" . | nindent 4 }}
{{- end -}}
