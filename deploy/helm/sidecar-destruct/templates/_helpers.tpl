{{/*
An image reference: registry/repository, then @digest when one is given, else :tag (the chart's appVersion when
empty). Called with (dict "image" .Values.X.image "appVersion" .Chart.AppVersion).
*/}}
{{- define "sidecar-destruct.image" -}}
{{- $ref := printf "%s/%s" .image.registry .image.repository -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (default .appVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
What the values change in one object of deploy/: every object gets Helm's labels and the common labels and
annotations (deploy/'s own labels win); the images, the webhook's replicas, resources, log level, scheduling and
the injected container's reservation go where deploy/base keeps them. Mutates .o in place.
*/}}
{{- define "sidecar-destruct.customize" -}}
{{- $o := .o -}}
{{- $v := .values -}}
{{- $meta := $o.metadata -}}
{{- $_ := set $meta "labels" (merge (dict) (default (dict) $meta.labels) .labels) -}}
{{- if $v.commonAnnotations -}}
{{- $_ := set $meta "annotations" (merge (dict) (default (dict) $meta.annotations) $v.commonAnnotations) -}}
{{- end -}}
{{- if and (eq $o.kind "ConfigMap") (eq $meta.name "sidecar-destruct-config") -}}
{{- $_ := set $o.data "sidecarImage" .sidecarImage -}}
{{- end -}}
{{- if and (eq $o.kind "Deployment") (eq $meta.name "sidecar-destruct-webhook") -}}
{{- $_ := set $o.spec "replicas" (int $v.webhook.replicas) -}}
{{- $pod := $o.spec.template.spec -}}
{{- $c := index $pod.containers 0 -}}
{{- $_ := set $c "image" .webhookImage -}}
{{- $_ := set $c "resources" $v.webhook.resources -}}
{{- $env := $c.env -}}
{{- if ne $v.webhook.logLevel "info" -}}
{{- $env = append $env (dict "name" "LOG_LEVEL" "value" $v.webhook.logLevel) -}}
{{- end -}}
{{- range $key, $name := dict "cpuRequest" "SIDECAR_CPU_REQUEST" "memoryRequest" "SIDECAR_MEMORY_REQUEST" "cpuLimit" "SIDECAR_CPU_LIMIT" "memoryLimit" "SIDECAR_MEMORY_LIMIT" -}}
{{- with index $v.sidecar.resources $key -}}
{{- $env = append $env (dict "name" $name "value" (toString .)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $c "env" $env -}}
{{- with $v.webhook.priorityClassName -}}{{- $_ := set $pod "priorityClassName" . -}}{{- end -}}
{{- with $v.webhook.nodeSelector -}}{{- $_ := set $pod "nodeSelector" . -}}{{- end -}}
{{- with $v.webhook.tolerations -}}{{- $_ := set $pod "tolerations" . -}}{{- end -}}
{{- end -}}
{{- if and (eq $o.kind "Job") (eq $meta.name "sidecar-destruct-certs") -}}
{{- $_ := set (index $o.spec.template.spec.containers 0) "image" .webhookImage -}}
{{- end -}}
{{- if and (eq $o.kind "CronJob") (eq $meta.name "sidecar-destruct-certs-renew") -}}
{{- $_ := set (index $o.spec.jobTemplate.spec.template.spec.containers 0) "image" .webhookImage -}}
{{- end -}}
{{- if and .certManager (eq $o.kind "MutatingWebhookConfiguration") -}}
{{- $_ := set $meta "annotations" (merge (dict "cert-manager.io/inject-ca-from" "sidecar-destruct-system/sidecar-destruct-webhook") (default (dict) $meta.annotations)) -}}
{{- end -}}
{{- end -}}
