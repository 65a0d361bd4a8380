{{/*
The chart's name, or nameOverride; at most 63 characters (a label value).
*/}}
{{- define "seccomp-syncd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of every object: fullnameOverride, else the release name when it
already contains the chart's name, else "<release>-<name>".
*/}}
{{- define "seccomp-syncd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"<chart>-<version>" for the helm.sh/chart label.
*/}}
{{- define "seccomp-syncd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The labels that select the pods: they never change between releases, so a
DaemonSet's immutable selector keeps matching after an upgrade.
*/}}
{{- define "seccomp-syncd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "seccomp-syncd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The labels of every object.
*/}}
{{- define "seccomp-syncd.labels" -}}
helm.sh/chart: {{ include "seccomp-syncd.chart" . }}
{{ include "seccomp-syncd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: node-agent
app.kubernetes.io/part-of: seccomp-syncd
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The service account the pods run as.
*/}}
{{- define "seccomp-syncd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "seccomp-syncd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference; the tag defaults to the chart's appVersion, a digest is
joined with "@".
*/}}
{{- define "seccomp-syncd.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if hasPrefix "@" $tag }}
{{- printf "%s%s" .Values.image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
Where the profiles live on the host, and inside the pod at the same path so
that the paths in logs and events are the node's.
*/}}
{{- define "seccomp-syncd.seccompDir" -}}
{{- printf "%s/seccomp" .Values.kubeletDir }}
{{- end }}

{{/*
The RBAC rules, split so that the namespaced variant can put the ConfigMap
and Event rules in Roles and keep only the node's pods cluster-wide.  These
are exactly the verbs the daemon uses and nothing more.
*/}}
{{- define "seccomp-syncd.rules.namespaced" -}}
# Read the profiles: list+watch streams them, get re-reads one.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
# Explain on the ConfigMap: create an Event, patch its count on repeats.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{- define "seccomp-syncd.rules.pods" -}}
# Keep a deleted profile while a pod on this node still uses it.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
{{- end }}
