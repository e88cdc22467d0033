package cel

import (
	"context"
	"testing"
)

// Expressions taken from the Kyverno policy corpus
// (kyverno-policies/*-vpol and *-cel), evaluated with the stores their
// tests' Context files provide.

const allContainers = "object.spec.containers + object.spec.?initContainers.orValue([]) + object.spec.?ephemeralContainers.orValue([])"

func corpusResources(t *testing.T) *MemoryResources {
	t.Helper()
	r, err := NewMemoryResources(
		mustYAML(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: allowed-pod-priorities, namespace: default}, data: {default: "high, medium"}}`),
		mustYAML(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: clusterregistries, namespace: default}, data: {registries: "docker.io/,busybox"}}`),
		mustYAML(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: baseimages, namespace: platform}, data: {allowedbaseimages: "gcr.io/distroless/static:nonroot"}}`),
		mustYAML(t, `{apiVersion: autoscaling/v1, kind: HorizontalPodAutoscaler, metadata: {name: web-hpa, namespace: default}, spec: {scaleTargetRef: {kind: Deployment, name: web}}}`),
	)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func corpusImages(t *testing.T) *MemoryImages {
	t.Helper()
	i, err := NewMemoryImages(
		mustYAML(t, `{image: "docker.io/nginx:1.25", config: {created: "2025-05-01T03:15:12-07:00", architecture: amd64, Env: ["PATH=/usr/bin", "NVIDIA_VISIBLE_DEVICES=all"]}, manifest: {annotations: {org.opencontainers.image.base.name: "gcr.io/distroless/static:nonroot"}}}`),
		mustYAML(t, `{image: "ghcr.io/example/sidecar@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", config: {created: "2020-05-01T03:15:12-07:00"}}`),
		mustYAML(t, `{image: busybox, config: {architecture: amd64}}`),
	)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestCorpusExpressions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec Spec
		want []Status
		// msg is the expected message of the first validation when set.
		msg string
	}{
		{
			name: "require-drop-all (cel)",
			spec: Spec{
				Variables: []Variable{{Name: "allContainers", Expression: allContainers}},
				Validations: []Validation{{Expression: `variables.allContainers.all(container, 
                container.?securityContext.?capabilities.?drop.orValue([]).exists(capability, capability.upperAscii() == 'ALL'))`,
					Message: "Containers must drop `ALL` capabilities."}},
			},
			want: []Status{Fail}, msg: "Containers must drop `ALL` capabilities.",
		},
		{
			name: "disallow-latest-tag",
			spec: Spec{Validations: []Validation{{Expression: "object.spec.containers.all(container, container.image.contains(':'))"}}},
			want: []Status{Pass},
		},
		{
			name: "disallow-selinux",
			spec: Spec{Validations: []Validation{{Expression: "object.spec.?securityContext.?seLinuxOptions.?user.orValue('') == '' && object.spec.?securityContext.?seLinuxOptions.?role.orValue('') == ''"}}},
			want: []Status{Pass},
		},
		{
			name: "require-probes (messageExpression)",
			spec: Spec{
				Variables: []Variable{{Name: "allContainers", Expression: `has(object.spec.containers) ? 
        object.spec.containers + object.spec.?initContainers.orValue([]) + object.spec.?ephemeralContainers.orValue([]) : 
        object.spec.template.spec.containers + object.spec.template.spec.?initContainers.orValue([]) + object.spec.template.spec.?ephemeralContainers.orValue([])`}},
				Validations: []Validation{{
					Expression: `variables.allContainers.all(container, 
        has(container.livenessProbe) || has(container.readinessProbe) || has(container.startupProbe))`,
					MessageExpression: `'All containers must have at least one probe (livenessProbe, readinessProbe, or startupProbe) defined. Missing probes in containers: ' + 
      variables.allContainers.filter(container, 
        !(has(container.livenessProbe) || has(container.readinessProbe) || has(container.startupProbe))
      ).map(container, container.name).join(', ')`,
				}},
			},
			want: []Status{Fail},
			msg:  "All containers must have at least one probe (livenessProbe, readinessProbe, or startupProbe) defined. Missing probes in containers: sidecar, init",
		},
		{
			name: "allowed-image-repos",
			spec: Spec{
				Variables: []Variable{
					{Name: "allContainers", Expression: allContainers},
					{Name: "allowedRepos", Expression: "['nginx', 'busybox', 'sidecar']"},
				},
				Validations: []Validation{{Expression: `variables.allContainers.all(container, variables.allowedRepos.exists(repo, (container.image.contains('/') ? container.image.split('/')[container.image.split('/').size() - 1].split(':')[0] : container.image.split(':')[0]) == repo))`}},
			},
			// The sidecar's last path element is "sidecar@sha256" before ':'.
			want: []Status{Fail},
		},
		{
			name: "allowed-pod-priorities (resource.Get)",
			spec: Spec{
				Dialect: Kyverno,
				Variables: []Variable{
					{Name: "prior", Expression: `resource.Get("v1", "configmaps", "default", "allowed-pod-priorities")`},
					{Name: "namespaceName", Expression: "namespaceObject.metadata.name"},
					{Name: "priorities", Expression: "variables.namespaceName in variables.prior.data ? variables.prior.data[variables.namespaceName].split(', ') : []"},
				},
				Validations: []Validation{{Expression: "variables.priorities == [] || object.spec.priorityClassName in variables.priorities"}},
			},
			want: []Status{Pass},
		},
		{
			name: "advanced-restrict-image-registries",
			spec: Spec{
				Dialect: Kyverno,
				Variables: []Variable{
					{Name: "cm", Expression: `resource.Get("v1", "configmaps", "default", "clusterregistries")`},
					{Name: "allContainers", Expression: allContainers},
					{Name: "nsRegistries", Expression: `namespaceObject.metadata.?annotations["corp.com/allowed-registries"]
        .orValue("") .split(",").filter(reg, reg != "")`},
					{Name: "cmRegistries", Expression: `variables.cm.data[?'registries'].orValue("").split(",").filter(reg, reg != "")`},
				},
				Validations: []Validation{{
					Expression: `variables.allContainers.all(container, 
          (variables.cmRegistries.exists(cmRegistry, container.image.startsWith(cmRegistry.trim())))
          || (variables.nsRegistries.exists(nsRegistry, container.image.startsWith(nsRegistry.trim()))))`,
					MessageExpression: `'This Pod names an image that is not from an approved registry' + variables.nsRegistries.join(',') + '  ' + variables.cmRegistries.join(',')`,
				}},
			},
			want: []Status{Pass},
		},
		{
			name: "check-hpa-exists (resource.List, without orValue)",
			spec: Spec{
				Dialect:     Kyverno,
				Variables:   []Variable{{Name: "hpaList", Expression: "resource.List('autoscaling/v1', 'horizontalpodautoscalers', object.metadata.namespace).items"}},
				Validations: []Validation{{Expression: "variables.hpaList.exists(hpa, hpa.spec.scaleTargetRef.name == object.metadata.name)"}},
			},
			want: []Status{Pass},
		},
		{
			name: "block-stale-images (image.GetMetadata, time.now)",
			spec: Spec{
				Dialect: Kyverno,
				Variables: []Variable{
					{Name: "allContainers", Expression: "object.spec.containers"},
					{Name: "maxAgeHours", Expression: "4380"},
					{Name: "maxAgeDuration", Expression: "duration(string(variables.maxAgeHours) + 'h')"},
					{Name: "cutoffTime", Expression: "time.now() - variables.maxAgeDuration"},
				},
				Validations: []Validation{{
					Expression: `variables.allContainers.all(container,
        !has(image.GetMetadata(container.image).config.created) ||
        timestamp(image.GetMetadata(container.image).config.created) >=
        variables.cutoffTime)`,
					// Folded by YAML (">-") into one line.
					MessageExpression: "'Images built more than 6 months ago are prohibited. Found stale images: ' + variables.allContainers.filter(container, has(image.GetMetadata(container.image).config.created) && timestamp(image.GetMetadata(container.image).config.created) < variables.cutoffTime).map(container, container.image).join(', ')",
				}},
			},
			msg:  "Images built more than 6 months ago are prohibited. Found stale images: ghcr.io/example/sidecar@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			want: []Status{Fail},
		},
		{
			name: "check-nvidia-gpu",
			spec: Spec{
				Dialect:   Kyverno,
				Variables: []Variable{{Name: "allContainers", Expression: "object.spec.containers"}},
				Validations: []Validation{{Expression: `variables.allContainers.all(container,
          !container.?resources.?limits[?'nvidia.com/gpu'].hasValue() ||
          (
            container.resources.limits['nvidia.com/gpu'] > 0
            &&
            image.GetMetadata(container.image)
            .config.?Env.orValue([])
            .exists(envVar, envVar.startsWith('NVIDIA_VISIBLE_DEVICES='))
          )
        )`}},
			},
			want: []Status{Pass},
		},
		{
			name: "allowed-base-images",
			spec: Spec{
				Dialect: Kyverno,
				Variables: []Variable{
					{Name: "baseimages", Expression: `resource.Get("v1", "configmaps", "platform", "baseimages")`},
					{Name: "allowedBaseImages", Expression: "variables.baseimages.data.allowedbaseimages.split(',')"},
				},
				Validations: []Validation{{Expression: `object.spec.containers.filter(c, c.name == 'nginx').all(container,
          has(image.GetMetadata(container.image).manifest.annotations) && 
          image.GetMetadata(container.image).manifest.annotations != null && 
          'org.opencontainers.image.base.name' in image.GetMetadata(container.image).manifest.annotations && 
          image.GetMetadata(container.image).manifest.annotations['org.opencontainers.image.base.name'] in variables.allowedBaseImages)`}},
			},
			want: []Status{Pass},
		},
		{
			name: "limit-configmap-for-sa (parseServiceAccount, request)",
			spec: Spec{
				Dialect: Kyverno,
				MatchConditions: []MatchCondition{
					{Name: "namespace-filter", Expression: "request.namespace in ['default', 'another-namespace']"},
					{Name: "serviceaccount-filter", Expression: "parseServiceAccount(request.userInfo.username).Namespace == 'another-namespace' && parseServiceAccount(request.userInfo.username).Name == 'another-developer'"},
				},
				Validations: []Validation{{Expression: "false", MessageExpression: "request.namespace + '/' + request.kind.kind + '/' + request.name + ' resource is protected. Admin or allowed users can change the resource'"}},
			},
			want: []Status{Fail},
			msg:  "default/Pod/web resource is protected. Admin or allowed users can change the resource",
		},
		{
			name: "image references",
			spec: Spec{Dialect: Kyverno, Validations: []Validation{{Expression: `object.spec.containers.all(c, isImage(c.image) &&
          parseImageReference(c.image).registry() in ['index.docker.io', 'ghcr.io'] &&
          (parseImageReference(c.image).containsDigest() || parseImageReference(c.image).tag() != 'latest'))`}}},
			want: []Status{Pass},
		},
	}
	c := testCompiler(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, c, tc.spec)
			in := Input{
				Object:          podObject(t),
				Request:         podRequest(),
				NamespaceObject: namespaceObject(),
				Resources:       corpusResources(t),
				Images:          corpusImages(t),
			}
			m, err := p.Match(context.Background(), in)
			if err != nil || !m.Matches {
				t.Fatalf("match: %+v %v", m, err)
			}
			res, err := p.Validate(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				if got := res.Validations[i]; got.Status != w {
					t.Fatalf("validation %d: %v (%s), want %v", i, got.Status, got.Message, w)
				}
			}
			if tc.msg != "" && res.Validations[0].Message != tc.msg {
				t.Fatalf("message %q, want %q", res.Validations[0].Message, tc.msg)
			}
		})
	}
}
