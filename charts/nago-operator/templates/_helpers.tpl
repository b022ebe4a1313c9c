{{/* Names and labels shared by every object of the chart. */}}
{{- define "nago.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "nago.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "nago.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nago.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "nago.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "nago.redisName" -}}{{ include "nago.fullname" . }}-redis{{- end -}}

{{/* The Redis address and the Secret holding its password. */}}
{{- define "nago.redisUrl" -}}
{{- if .Values.redis.bundled -}}redis://{{ include "nago.redisName" . }}.{{ .Release.Namespace }}.svc:6379/0{{- else -}}{{ .Values.redis.external.url }}{{- end -}}
{{- end -}}
{{- define "nago.redisSecret" -}}
{{- if .Values.redis.bundled -}}{{ include "nago.redisName" . }}{{- else -}}{{ .Values.redis.external.existingSecret }}{{- end -}}
{{- end -}}
{{- define "nago.redisSecretKey" -}}
{{- if .Values.redis.bundled -}}password{{- else -}}{{ .Values.redis.external.existingSecretPasswordKey }}{{- end -}}
{{- end -}}

{{/* The restricted Pod Security Standard, for every container of the chart. */}}
{{- define "nago.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Where a pod may run: nodeSelector, tolerations and affinity of one component's values (operator or redis).
*/}}
{{- define "nago.placement" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
