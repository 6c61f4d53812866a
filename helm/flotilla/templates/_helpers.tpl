{{/* Names and labels shared by every template. */}}

{{- define "flotilla.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-flotilla", or the release name alone when it already says flotilla; capped for DNS labels. */}}
{{- define "flotilla.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "flotilla.controlPlane.fullname" -}}{{ include "flotilla.fullname" . }}-control-plane{{- end -}}
{{- define "flotilla.nodeAgent.fullname" -}}{{ include "flotilla.fullname" . }}-node-agent{{- end -}}
{{- define "flotilla.postgresql.fullname" -}}{{ include "flotilla.fullname" . }}-postgresql{{- end -}}

{{- define "flotilla.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "flotilla.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "control-plane"). */}}
{{- define "flotilla.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flotilla.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "flotilla.componentLabels" -}}
{{ include "flotilla.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "flotilla.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{- define "flotilla.controlPlane.serviceAccountName" -}}
{{- if .Values.controlPlane.serviceAccount.create -}}
{{- default (include "flotilla.controlPlane.fullname" .) .Values.controlPlane.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.controlPlane.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "flotilla.auth.secretName" -}}
{{- default (printf "%s-auth" (include "flotilla.controlPlane.fullname" .)) .Values.controlPlane.auth.existingSecret -}}
{{- end -}}

{{- define "flotilla.database.secretName" -}}
{{- if eq .Values.postgresql.mode "external" -}}
{{- default (printf "%s-database" (include "flotilla.controlPlane.fullname" .)) .Values.postgresql.external.existingSecret -}}
{{- else -}}
{{- default (include "flotilla.postgresql.fullname" .) .Values.postgresql.bundled.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* A Quarkus property name as its environment variable (flotilla.auth.join-token -> FLOTILLA_AUTH_JOIN_TOKEN). */}}
{{- define "flotilla.envName" -}}
{{- regexReplaceAll "[^A-Za-z0-9]" . "_" | upper -}}
{{- end -}}

{{/* Environment variables from a map of Quarkus properties, sorted by name. */}}
{{- define "flotilla.configEnv" -}}
{{- range $key, $value := . }}
- name: {{ include "flotilla.envName" $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/*
A value of an existing Secret when the release is upgraded (so generated passwords and tokens stay), else the
given value, else a new random one. Call with (dict "root" $ "secret" NAME "key" KEY "value" GIVEN).
*/}}
{{- define "flotilla.secretValue" -}}
{{- if .value -}}
{{- .value -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret -}}
{{- if and $existing (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 40 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Checks across values that a JSON schema cannot express clearly. */}}
{{- define "flotilla.validate" -}}
{{- $cp := .Values.controlPlane -}}
{{- if and $cp.enabled (eq .Values.postgresql.mode "external") (not .Values.postgresql.external.existingSecret) (not .Values.postgresql.external.jdbcUrl) -}}
{{- fail "postgresql.mode is external but neither postgresql.external.existingSecret nor postgresql.external.jdbcUrl is set: the control plane would have no database to connect to." -}}
{{- end -}}
{{- if and $cp.enabled (eq .Values.postgresql.mode "external") .Values.postgresql.external.jdbcUrl (not (hasPrefix "jdbc:postgresql://" .Values.postgresql.external.jdbcUrl)) -}}
{{- fail (printf "postgresql.external.jdbcUrl must start with jdbc:postgresql:// (got %q)." .Values.postgresql.external.jdbcUrl) -}}
{{- end -}}
{{- if and .Values.nodeAgent.enabled (not $cp.enabled) -}}
{{- fail "nodeAgent.enabled is true but controlPlane.enabled is false: node agents register with this release's control plane. Disable the node agent too, or enable the control plane." -}}
{{- end -}}
{{- end -}}
