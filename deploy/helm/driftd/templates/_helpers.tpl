{{- define "driftd.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "driftd.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "driftd.labels" -}}
{{ include "driftd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "driftd.configMapName" -}}
{{- .Values.existingConfigMap | default (printf "%s-config" (include "driftd.fullname" .)) -}}
{{- end -}}

{{/* Settings a silent default would get wrong are errors. */}}
{{- define "driftd.validate" -}}
{{- if and .Values.persistence.existingClaim (gt (int .Values.shards) 1) -}}
{{- fail "persistence.existingClaim holds one store: with shards > 1 each replica needs its own volume (leave existingClaim empty)" -}}
{{- end -}}
{{- if and (eq .Values.mode "cronjob") .Values.serviceMonitor.enabled -}}
{{- fail "serviceMonitor.enabled needs mode: serve (a scan job serves no metrics)" -}}
{{- end -}}
{{- if and (eq .Values.mode "cronjob") .Values.prometheusRule.enabled -}}
{{- fail "prometheusRule.enabled needs mode: serve (its rules and alerts read the metrics a scan job does not serve)" -}}
{{- end -}}
{{- end -}}

{{/* The names in-cluster clients reach serve by, comma-separated: the
Service's and, sharded, each replica's through the headless Service, in
every form cluster DNS gives. */}}
{{- define "driftd.allowedHosts" -}}
{{- $name := include "driftd.fullname" . -}}
{{- $bases := list $name -}}
{{- if gt (int .Values.shards) 1 -}}
{{- $bases = append $bases (printf "*.%s-pods" $name) -}}
{{- end -}}
{{- $hosts := list -}}
{{- range $bases -}}
{{- $hosts = concat $hosts (list . (printf "%s.%s" . $.Release.Namespace) (printf "%s.%s.svc" . $.Release.Namespace) (printf "%s.%s.svc.%s" . $.Release.Namespace $.Values.clusterDomain)) -}}
{{- end -}}
{{- join "," $hosts -}}
{{- end -}}

{{/* serve's command line. */}}
{{- define "driftd.serveArgs" -}}
{{- toJson (list "serve" "--listen" "0.0.0.0:8080" "--log-format" "json" "--allowed-hosts" (include "driftd.allowedHosts" .)) -}}
{{- end -}}

{{/* The pod spec every mode shares; .args is driftd's command line, .env extra variables, .data the data volume. */}}
{{- define "driftd.podSpec" -}}
{{- $ := .root -}}
serviceAccountName: {{ include "driftd.fullname" $ }}
automountServiceAccountToken: false
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  fsGroup: 65532
  seccompProfile:
    type: RuntimeDefault
containers:
  - name: driftd
    image: {{ printf "%s:%s" $.Values.image.repository ($.Values.image.tag | default $.Chart.AppVersion) | quote }}
    imagePullPolicy: {{ $.Values.image.pullPolicy }}
    args:
      {{- toYaml (concat .args $.Values.extraArgs) | nindent 6 }}
    env:
      - name: DRIFTD_CONFIG
        value: /etc/driftd/workspaces.yaml
      {{- with .env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
      {{- with $.Values.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- with $.Values.secretName }}
    envFrom:
      - secretRef:
          name: {{ . }}
    {{- end }}
    {{- if eq $.Values.mode "serve" }}
    ports:
      - name: http
        containerPort: 8080
    readinessProbe:
      httpGet:
        path: /readyz
        port: http
      periodSeconds: 10
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: 30
      failureThreshold: 4
    {{- end }}
    resources:
      {{- toYaml $.Values.resources | nindent 6 }}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: ["ALL"]
    volumeMounts:
      - name: config
        mountPath: /etc/driftd
        readOnly: true
      - name: data
        mountPath: /var/lib/driftd
      - name: tmp
        mountPath: /tmp
volumes:
  - name: config
    configMap:
      name: {{ include "driftd.configMapName" $ }}
  - name: tmp
    emptyDir: {}
  {{- with .data }}
  - name: data
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- with $.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
