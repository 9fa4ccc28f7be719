{{/* The chart's name, or nameOverride. */}}
{{- define "c360.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's resource name: fullnameOverride, else <release>-<chart> (the release name alone if it holds the chart's name). */}}
{{- define "c360.fullname" -}}
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

{{- define "c360.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every resource carries. */}}
{{- define "c360.labels" -}}
helm.sh/chart: {{ include "c360.chart" . }}
{{ include "c360.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: c360
{{- end }}

{{/* Labels that select the release's pods (never change them after install). */}}
{{- define "c360.selectorLabels" -}}
app.kubernetes.io/name: {{ include "c360.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "c360.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "c360.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "c360.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Environment both the API and the build get: logs, scratch space, the serving files' directory. */}}
{{- define "c360.env" -}}
- {name: C360_LOG_FORMAT, value: {{ .Values.logs.format | quote }}}
- {name: C360_LOG_LEVEL, value: {{ .Values.logs.level | quote }}}
- {name: HOME, value: /tmp}
- {name: TMPDIR, value: /tmp}
- {name: C360_SERVING_DIR, value: /var/cache/c360/serving}
{{- end }}

{{/* Scratch volumes: the root filesystem is read-only. */}}
{{- define "c360.scratchMounts" -}}
- {name: spec, mountPath: /product, readOnly: true}
- {name: tmp, mountPath: /tmp}
- {name: serving, mountPath: /var/cache/c360/serving}
{{- end }}

{{- define "c360.scratchVolumes" -}}
- name: spec
  configMap: {name: {{ include "c360.fullname" . }}-spec}
- name: tmp
  emptyDir: {sizeLimit: {{ .Values.scratch.tmpSize }}}
- name: serving
  emptyDir: {sizeLimit: {{ .Values.scratch.servingSize }}}
{{- end }}

{{/* The API's serving mode: C360_SERVING, and in redis mode the Redis it reads (C360_REDIS_URL). */}}
{{- define "c360.servingEnv" -}}
{{- $s := .Values.serving | default dict -}}
{{- $mode := $s.mode | default "file" -}}
- {name: C360_SERVING, value: {{ $mode | quote }}}
{{- if eq $mode "redis" }}
{{- if $s.existingSecret }}
- name: C360_REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ $s.existingSecret | quote }}, key: {{ $s.existingSecretKey | default "C360_REDIS_URL" | quote }}}
{{- else if $s.redisUrl }}
- {name: C360_REDIS_URL, value: {{ $s.redisUrl | quote }}}
{{- else }}
{{- fail "serving.mode=redis needs serving.redisUrl or serving.existingSecret" }}
{{- end }}
{{- with $s.product }}
- {name: C360_REDIS_PRODUCT, value: {{ . | quote }}}
{{- end }}
{{- end }}
{{- end }}
