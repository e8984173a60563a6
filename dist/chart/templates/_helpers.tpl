{{/* The prefix of every object's name. */}}
{{- define "bpo.prefix" -}}
{{- .Values.namePrefix | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Where the API context Secrets and the leader Lease live. */}}
{{- define "bpo.contextNamespace" -}}
{{- .Values.contextNamespace | default .Release.Namespace -}}
{{- end -}}

{{- define "bpo.serviceAccount" -}}
{{- include "bpo.prefix" . }}-controller-manager
{{- end -}}

{{/* Labels of every object. */}}
{{- define "bpo.labels" -}}
app.kubernetes.io/part-of: bunq-pinning-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The ServiceAccount as an RBAC subject. */}}
{{- define "bpo.subject" -}}
- kind: ServiceAccount
  name: {{ include "bpo.serviceAccount" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}

{{/* A document of a file that make manifests copies into files/, by kind. */}}
{{- define "bpo.fileDoc" -}}
{{- $kind := index . 2 -}}
{{- range splitList "\n---\n" (printf "\n%s" ((index . 0).Files.Get (index . 1))) -}}
{{- $doc := fromYaml . -}}
{{- if eq ($doc.kind | default "") $kind -}}
{{- toYaml $doc -}}
{{- end -}}
{{- end -}}
{{- end -}}
