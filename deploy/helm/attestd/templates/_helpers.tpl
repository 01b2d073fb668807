{{/*
Expand the name of the chart.
*/}}
{{- define "attestd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A fully qualified app name, at most 63 characters (DNS label). A release name
that already contains the chart name is used as it is.
*/}}
{{- define "attestd.fullname" -}}
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

{{- define "attestd.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "attestd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "attestd.labels" -}}
helm.sh/chart: {{ include "attestd.chart" . }}
{{ include "attestd.selectorLabels" . }}
app.kubernetes.io/version: {{ include "attestd.version" . | quote }}
app.kubernetes.io/component: session-exchange
app.kubernetes.io/part-of: attestd
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: never change them in an upgrade (a Deployment's selector is immutable).
*/}}
{{- define "attestd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "attestd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "attestd.version" -}}
{{- .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "attestd.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{- define "attestd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "attestd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Stytch secret: an existing Secret, or the one the chart makes from stytch.secret.
*/}}
{{- define "attestd.stytchSecretName" -}}
{{- default (printf "%s-stytch" (include "attestd.fullname" .)) .Values.stytch.existingSecret }}
{{- end }}

{{- define "attestd.stytchSecretKey" -}}
{{- if .Values.stytch.existingSecret }}{{ .Values.stytch.existingSecretKey }}{{ else }}secret{{ end }}
{{- end }}

{{/*
True when the pod needs the Stytch credentials (every mode but emulator).
*/}}
{{- define "attestd.usesStytch" -}}
{{- if ne .Values.mode "emulator" }}true{{ end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the pre-stop delay, plus attestd's shutdown grace,
plus a margin for the process to exit; an explicit value must exceed the first two.
*/}}
{{- define "attestd.terminationGracePeriodSeconds" -}}
{{- $floor := add .Values.lifecycle.preStopSleepSeconds .Values.shutdownGraceSeconds }}
{{- if .Values.terminationGracePeriodSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $floor) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed lifecycle.preStopSleepSeconds + shutdownGraceSeconds (%v): the kubelet would kill attestd while calls are still finishing" .Values.terminationGracePeriodSeconds $floor) }}
{{- end }}
{{- .Values.terminationGracePeriodSeconds }}
{{- else }}
{{- add $floor 10 }}
{{- end }}
{{- end }}
