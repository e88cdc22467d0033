{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every resource name: <release>-<chart>, or the release name
when it already contains the chart name. */}}
{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels selecting the Portcullis pods (must never change on upgrade). */}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portcullis.labels" -}}
helm.sh/chart: {{ include "portcullis.chart" . }}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portcullis
{{- end -}}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Secret holding tls.crt, tls.key and ca.crt of the webhook server. */}}
{{- define "portcullis.tlsSecretName" -}}
{{- printf "%s-tls" (include "portcullis.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.verificationKeySecretName" -}}
{{- printf "%s-verification-key" (include "portcullis.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.metricsServiceName" -}}
{{- printf "%s-metrics" (include "portcullis.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.validatingConfigurationName" -}}
{{- default (include "portcullis.fullname" .) .Values.webhook.validatingConfigurationName -}}
{{- end -}}

{{- define "portcullis.mutatingConfigurationName" -}}
{{- default (include "portcullis.fullname" .) .Values.webhook.mutatingConfigurationName -}}
{{- end -}}

{{/* Lease used for leader election. */}}
{{- define "portcullis.leaseName" -}}
{{- include "portcullis.fullname" . -}}
{{- end -}}

{{/* Image reference: repository@digest when a digest is set, else
repository:tag (tag defaults to the appVersion). */}}
{{- define "portcullis.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Validated policy group. */}}
{{- define "portcullis.policyGroup" -}}
{{- $g := .Values.policyGroup -}}
{{- if not (has $g (list "portcullis.dev" "kyverno.io")) -}}
{{- fail (printf "policyGroup must be portcullis.dev or kyverno.io, not %q" $g) -}}
{{- end -}}
{{- $g -}}
{{- end -}}

{{/* "true" when the chart installs the policy CRDs: crds.install, and never
kyverno.io CRDs while kyverno.present says Kyverno owns them. */}}
{{- define "portcullis.installCRDs" -}}
{{- $g := include "portcullis.policyGroup" . -}}
{{- if and .Values.crds.install (not (and (eq $g "kyverno.io") .Values.kyverno.present)) -}}
true
{{- end -}}
{{- end -}}

{{/* Namespaces excluded from admission: webhook.excludedNamespaces plus the
release namespace, without duplicates, as a list. */}}
{{- define "portcullis.excludedNamespaces" -}}
{{- $ns := .Values.webhook.excludedNamespaces | default list -}}
{{- if .Values.webhook.excludeReleaseNamespace -}}
{{- $ns = append $ns .Release.Namespace -}}
{{- end -}}
{{- $ns | uniq | join "," -}}
{{- end -}}

{{/* "true" when the findings store is on (store.enabled, or the dashboard, which reads it). */}}
{{- define "portcullis.storeEnabled" -}}
{{- if or .Values.store.enabled .Values.dashboard.enabled }}true{{ end -}}
{{- end -}}

{{/* "true" when the store is the embedded SQLite file under store.dataDir (no store.existingSecret). */}}
{{- define "portcullis.storeSQLite" -}}
{{- if and (include "portcullis.storeEnabled" .) (not .Values.store.existingSecret) }}true{{ end -}}
{{- end -}}

{{/* Name of the chart-created PersistentVolumeClaim of the SQLite store. */}}
{{- define "portcullis.storeClaimName" -}}
{{- .Values.store.persistence.existingClaim | default (printf "%s-findings" (include "portcullis.fullname" .)) -}}
{{- end -}}

{{/* Refuses values the API server or Portcullis would refuse later. */}}
{{- define "portcullis.validateValues" -}}
{{- if not (has .Values.webhook.failurePolicy (list "Fail" "Ignore")) -}}
{{- fail (printf "webhook.failurePolicy must be Fail or Ignore, not %q" (toString .Values.webhook.failurePolicy)) -}}
{{- end -}}
{{- $t := int .Values.webhook.timeoutSeconds -}}
{{- if or (lt $t 1) (gt $t 30) -}}
{{- fail (printf "webhook.timeoutSeconds must be between 1 and 30, not %v" .Values.webhook.timeoutSeconds) -}}
{{- end -}}
{{- if not (has .Values.logLevel (list "debug" "info" "warn" "error")) -}}
{{- fail (printf "logLevel must be debug, info, warn or error, not %q" (toString .Values.logLevel)) -}}
{{- end -}}
{{- if and .Values.exceptions.namespaces (not (or (eq (include "portcullis.policyGroup" .) "kyverno.io") .Values.kyverno.present)) -}}
{{- fail "exceptions.namespaces needs the kyverno.io PolicyException CRD: set policyGroup=kyverno.io (the chart installs it) or kyverno.present=true (Kyverno's)" -}}
{{- end -}}
{{- if and .Values.image.digest (not (hasPrefix "sha256:" .Values.image.digest)) -}}
{{- fail (printf "image.digest must start with sha256:, not %q" .Values.image.digest) -}}
{{- end -}}
{{- if and (include "portcullis.storeSQLite" .) (gt (int .Values.replicaCount) 1) -}}
{{- fail (printf "the SQLite findings store (store.dataDir) is one pod's file: with replicaCount=%v the replicas would each read their own; set replicaCount=1 or use PostgreSQL (store.existingSecret)" .Values.replicaCount) -}}
{{- end -}}
{{- if and .Values.dashboard.enabled (eq (int .Values.dashboard.port) (int .Values.webhook.port)) -}}
{{- fail "dashboard.port must differ from webhook.port" -}}
{{- end -}}
{{- end -}}
