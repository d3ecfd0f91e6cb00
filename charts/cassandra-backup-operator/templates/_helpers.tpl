{{/* Name of every object of the release. */}}
{{- define "cbo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The agent's ClusterRole: cassandra-backup-agent for the release cassandra-backup-operator. */}}
{{- define "cbo.agentRole" -}}
{{- printf "%s-agent" (include "cbo.fullname" . | trimSuffix "-operator") | trunc 63 -}}
{{- end -}}

{{- define "cbo.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
{{- if .Values.releaseLabels }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
{{- end -}}

{{- define "cbo.labels" -}}
{{ include "cbo.selectorLabels" . }}
{{- if .Values.releaseLabels }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}
{{- end -}}

{{/* An image reference: (dict "root" $ "image" .Values.image.operator). */}}
{{- define "cbo.image" -}}
{{- $v := .root.Values.image -}}
{{- $repo := .image.name -}}
{{- if $v.registry }}{{ $repo = printf "%s/%s" ($v.registry | trimSuffix "/") .image.name }}{{ end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repo .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (.image.tag | default $v.tag | default .root.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* The operator needs the webhook's caBundle right and a Secret of its own (built-in certificates). */}}
{{- define "cbo.builtinCerts" -}}
{{- if not .Values.webhook.certManager.enabled }}true{{ end -}}
{{- end -}}

{{/* Rules in every watched namespace (all of them with a ClusterRole). */}}
{{- define "cbo.watchRules" -}}
# Its own kinds: watch them, keep finalizers and annotations, write status.
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackups", "cassandradatacenters"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackups/status", "cassandradatacenters/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackups/finalizers", "cassandradatacenters/finalizers"]
  verbs: ["update"]
# cass-operator's CassandraDatacenters: read their racks and size, write the
# restore-status annotation; the restore plan ConfigMap is owned by one (finalizers).
- apiGroups: ["cassandra.datastax.com"]
  resources: ["cassandradatacenters"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["cassandra.datastax.com"]
  resources: ["cassandradatacenters/finalizers"]
  verbs: ["update"]
# Schedules: watch them, write their status; create the backups of each run and delete
# the ones retention expires.
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackupschedules"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackupschedules/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackups"]
  verbs: ["create", "delete"]
# Table restores (CassandraRestore): watch them, write their status.
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrarestores"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrarestores/status"]
  verbs: ["get", "patch", "update"]
# Locations: watch them, write their status (sync creates backups, above).
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackuplocations"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackuplocations/status"]
  verbs: ["get", "patch", "update"]
# Pods of Cassandra datacenters: find the agents, follow restore init containers.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# Restore drills: watch them, write their status; create each run's pod (owned by the
# drill, so finalizers) and delete it once its result is recorded.
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackupverifications"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackupverifications/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackupverifications/finalizers"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["create", "delete"]
# Restore plans: the disk a restored pod gets (its StatefulSet's volumeClaimTemplates),
# read when a plan is made.
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get"]
# Restore plans: ConfigMaps owned by the CassandraDataCenter.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# Storage credentials, read on demand at the moment of use; never listed or watched.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# Drive the agents: they authorize each call with a SubjectAccessReview on this
# subresource (RBAC only; the API server serves nothing there), in the agent's namespace.
- apiGroups: ["cassandraoperator.instaclustr.com"]
  resources: ["cassandrabackups/operations"]
  verbs: ["get", "create", "delete"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch", "update"]
# Whether a namespace is being deleted, when a Delete-policy backup's Secret is gone (in a
# Role, this is the watched namespace's own object only).
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get"]
{{- end -}}

{{/* Cluster-scoped in every mode: the caBundle of its own webhook configuration (built-in certificates). */}}
{{- define "cbo.webhookRules" -}}
# caBundle of its own webhook configuration only.
- apiGroups: ["admissionregistration.k8s.io"]
  resources: ["mutatingwebhookconfigurations"]
  resourceNames: [{{ include "cbo.fullname" . | quote }}]
  verbs: ["get", "patch", "update"]
{{- end -}}

{{/* In the release namespace: the leader-election Lease and the webhook's certificate Secret. */}}
{{- define "cbo.ownRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update"]
# Tokens of its own ServiceAccount for the agents, one audience per namespace.
- apiGroups: [""]
  resources: ["serviceaccounts/token"]
  resourceNames: [{{ include "cbo.fullname" . | quote }}]
  verbs: ["create"]
{{- if include "cbo.builtinCerts" . }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "update"]
{{- end }}
{{- end -}}

{{/* A RoleBinding or ClusterRoleBinding of the operator's ServiceAccount: (dict "root" $ "kind" "Role" "namespace" ns). */}}
{{- define "cbo.binding" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ .kind }}Binding
metadata:
  name: {{ include "cbo.fullname" .root }}
  {{- with .namespace }}
  namespace: {{ . }}
  {{- end }}
  labels:
    {{- include "cbo.labels" .root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {{ .kind }}
  name: {{ include "cbo.fullname" .root }}
subjects:
- kind: ServiceAccount
  name: {{ include "cbo.fullname" .root }}
  namespace: {{ .root.Release.Namespace }}
{{- end -}}

{{/* The namespaces whose pods the webhook and the restore guard see. */}}
{{- define "cbo.podNamespaceSelector" -}}
matchExpressions:
{{- with .Values.watchNamespaces }}
# A namespaced install: only the watched namespaces.
- key: kubernetes.io/metadata.name
  operator: In
  values: [{{ range $i, $ns := . }}{{ if $i }}, {{ end }}{{ $ns | quote }}{{ end }}]
{{- else }}
# Never the operator's own namespace (the webhook must not block its own pods) nor
# kube-system.
- key: kubernetes.io/metadata.name
  operator: NotIn
  values: [{{ .Release.Namespace | quote }}, "kube-system"]
{{- end }}
{{- end -}}
