// docs/configuration.md: the KnativeGateway reference, generated from the CRD's schema (itself
// generated from the TypeBox definition in api/knativegateway-*-schema.ts) so every field, default
// and rule is listed and none goes stale.
import {
  CONDITION_FLEETS_READY,
  CONDITION_KNATIVE_CONFIGURED,
  CONDITION_READY,
  DEFAULT_ENVOY_IMAGE,
  DEFAULT_LISTENER_PORTS,
  ENVOY_ADMIN_SOCKET,
  ENVOY_READY_PORT,
  GATEWAY_API_VERSION,
  GATEWAY_CRD_NAME,
  LABEL_FLEET,
  LABEL_GATEWAY,
  LABEL_MANAGED_BY,
  LABEL_METRICS,
  MANAGED_BY_KGW,
  METRICS_LABEL_VALUE,
  METRICS_PATH,
  fleetDomainInternal,
  fleetServiceName,
  fleetXdsCluster,
} from '../api/knativegateway.ts';
import {
  CONFIG_DOMAIN,
  CONFIG_NETWORK,
  NETWORK_KEYS,
  desiredConfigDomain,
  desiredConfigNetwork,
} from '../api/knativegateway-knative.ts';
import {
  ANNOTATION_BOOTSTRAP_HASH,
  BOOTSTRAP_PATH,
  ENVOY_UID,
  METRICS_PORT_NAME,
  READY_PATH,
  TERMINATION_GRACE_EXTRA_SECONDS,
  XDS_PORT,
  XDS_SERVICE_NAME,
} from '../fleets/fleet-names.ts';
import type { CustomResourceDefinition } from './crd.ts';
import { fullSampleKnativeGateway } from './sample.ts';
import type { JsonValue, Schema, ValidationRule } from './schema.ts';

interface Row {
  field: string;
  type: string;
  def: string;
  constraints: string;
  description: string;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Plain text for a table cell: `<placeholders>` must not be read as HTML tags. */
function text(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function code(v: JsonValue | string): string {
  return `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;
}

function typeOf(s: Schema): string {
  if (s['x-kubernetes-int-or-string'] === true) return 'int-or-string';
  if (s.type === 'array') return `[]${s.items ? typeOf(s.items) : '?'}`;
  if (s.type === 'object' && typeof s.additionalProperties === 'object') {
    return `map[string]${typeOf(s.additionalProperties)}`;
  }
  return s.type ?? 'any';
}

function constraintsOf(s: Schema, required: boolean): string {
  const c: string[] = [];
  if (required) c.push('required');
  if (s.enum !== undefined) c.push(`one of ${s.enum.map((e) => code(e)).join(', ')}`);
  if (s.minimum !== undefined && s.maximum !== undefined) c.push(`${s.minimum}–${s.maximum}`);
  else if (s.minimum !== undefined) c.push(`≥ ${s.minimum}`);
  else if (s.maximum !== undefined) c.push(`≤ ${s.maximum}`);
  if (s.maxLength !== undefined) c.push(`at most ${s.maxLength} characters`);
  if (s.pattern !== undefined) c.push(`pattern ${code(s.pattern)}`);
  if (s.format !== undefined && s.type === 'string') c.push(`format ${s.format}`);
  if (s.minItems !== undefined && s.maxItems !== undefined) c.push(`${s.minItems}–${s.maxItems} items`);
  else if (s.minItems !== undefined) c.push(`at least ${s.minItems} items`);
  else if (s.maxItems !== undefined) c.push(`at most ${s.maxItems} items`);
  if (s.maxProperties !== undefined) c.push(`at most ${s.maxProperties} entries`);
  const values = typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
  if (values?.maxLength !== undefined) c.push(`values at most ${values.maxLength} characters`);
  if (values?.pattern !== undefined) c.push(`values match ${code(values.pattern)}`);
  if (s['x-kubernetes-preserve-unknown-fields'] === true) c.push('fields passed through as written');
  const keys = s['x-kubernetes-list-map-keys'];
  if (keys !== undefined) c.push(`keyed by ${keys.map((k) => code(k)).join(', ')}`);
  return c.join('; ');
}

function rows(s: Schema, path: string, required: boolean, out: Row[]): Row[] {
  out.push({
    field: path,
    type: typeOf(s),
    def: s.default !== undefined ? code(s.default) : '',
    constraints: constraintsOf(s, required),
    description: s.description ?? '',
  });
  const obj = s.type === 'array' ? s.items : s;
  const prefix = s.type === 'array' ? `${path}[]` : path;
  for (const [k, v] of Object.entries(obj?.properties ?? {})) {
    rows(v, `${prefix}.${k}`, (obj?.required ?? []).includes(k), out);
  }
  return out;
}

function table(rs: Row[]): string {
  const lines = ['| Field | Type | Default | Constraints | Description |', '|---|---|---|---|---|'];
  for (const r of rs) {
    lines.push(
      `| ${[code(r.field), code(r.type), r.def, r.constraints, text(r.description)].map(cell).join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

function rulesOf(s: Schema, path: string, out: { path: string; rule: ValidationRule }[]): void {
  for (const r of s['x-kubernetes-validations'] ?? []) out.push({ path, rule: r });
  for (const [k, v] of Object.entries(s.properties ?? {})) rulesOf(v, path === '' ? k : `${path}.${k}`, out);
  if (s.items !== undefined) rulesOf(s.items, `${path}[]`, out);
}

/** A ConfigMap's data as a YAML block for the docs. */
function dataBlock(data: Record<string, string> | undefined): string {
  if (data === undefined) return '(not written)';
  return Object.entries(data)
    .map(([k, v]) =>
      v.includes('\n')
        ? `${k}: |\n${v
            .trimEnd()
            .split('\n')
            .map((l) => `  ${l}`)
            .join('\n')}`
        : `${k}: ${v === '' ? '""' : JSON.stringify(v)}`,
    )
    .join('\n');
}

export function configurationDoc(
  crd: CustomResourceDefinition,
  sampleYaml: string,
  fullSampleYaml: string,
): string {
  const version = crd.spec.versions[0];
  if (version === undefined) throw new Error('CRD has no version');
  const root = version.schema.openAPIV3Schema;
  const spec = root.properties?.spec;
  const status = root.properties?.status;
  const name = root.properties?.metadata?.properties?.name;
  if (spec === undefined || status === undefined || name === undefined) {
    throw new Error('CRD schema has no spec, status or metadata.name');
  }
  const celRules: { path: string; rule: ValidationRule }[] = [];
  rulesOf(root, '', celRules);
  const ext = DEFAULT_LISTENER_PORTS.ExternalIP;
  const loc = DEFAULT_LISTENER_PORTS.ClusterLocal;
  const columns = (version.additionalPrinterColumns ?? [])
    .map(
      (c) =>
        `| ${c.name} | ${cell(code(c.jsonPath))} | ${text(c.description)}${c.priority ? ' (`-o wide`)' : ''} |`,
    )
    .join('\n');

  return `<!-- Code generated by operator/gen (npm run gen); DO NOT EDIT. -->
# Configuration: the KnativeGateway resource

A \`KnativeGateway\` (\`${GATEWAY_API_VERSION}\`, cluster-scoped, short name \`${crd.spec.names.shortNames?.join(', ') ?? ''}\`)
is one kgw instance: the Knative ingress class it serves, the Envoy fleets that serve it and the
Knative Serving configuration it owns. kgw translates every KIngress of that class into Envoy
configuration for each fleet, sends it over xDS, runs and publishes each fleet and reports the
fleets' Services in KIngress status. Several KnativeGateways may coexist, each with its own
ingress class; one of them configures Knative (\`knative.configure\`).

The CRD is \`crds/${crd.spec.group}_${crd.spec.names.plural}.yaml\` (\`${GATEWAY_CRD_NAME}\`); \`kubectl explain
knativegateway.spec\` shows the descriptions below. This page and the CRD are generated by \`npm run gen\`
from the API's one definition, the TypeBox schema in \`operator/api/knativegateway-*-schema.ts\`
(which kgw also validates gateways against), and the samples from \`operator/gen/sample.ts\`.

## Sample

\`crds/samples/knativegateway.yaml\`:

\`\`\`yaml
${sampleYaml.trimEnd()}
\`\`\`

Install the CRD, apply the sample and look at it:

\`\`\`sh
kubectl apply -f crds/${crd.spec.group}_${crd.spec.names.plural}.yaml
kubectl apply -f crds/samples/knativegateway.yaml
kubectl get kgw            # NAME, READY, FLEETS, ADDRESS, AGE (-o wide adds CLASS)
kubectl get kgw-all -A     # every kgw object: KnativeGateways and RoutePolicies (category kgw-all)
kubectl explain kgw.spec.fleets
\`\`\`

Everything left out takes its default: fleet \`external\` listens on ${ext.http} (HTTP) and ${ext.https}
(HTTPS), fleet \`local\` on ${loc.http} and ${loc.https}, and both are published on Service ports 80 and 443
(a LoadBalancer Service for \`external\`, a ClusterIP Service for \`local\`). kgw also makes its
ingress class the default of Knative Serving (\`${CONFIG_NETWORK}\` in \`knative-serving\`).

A gateway using most fields, \`crds/samples/knativegateway-full.yaml\`:

\`\`\`yaml
${fullSampleYaml.trimEnd()}
\`\`\`

### Changes from the first version of the API

This API is \`v1alpha1\` and unreleased; one field changed shape. \`fleets[].accessLog\` was a
boolean and is now an object: write \`accessLog: {enabled: true}\` (optionally \`format: json\`)
instead of \`accessLog: true\`. The API server rejects the boolean on new writes; kgw still reads it
from objects stored before (\`true\` means \`{enabled: true}\`). \`replicas\` may now be left out in
favour of \`autoscaling\` (not both), and its maximum grew to 100.

## Names kgw derives

For gateway \`default\` and fleet \`external\` with the default namespace and cluster domain:

| What | Value | Rule |
|---|---|---|
| Service (and other per-fleet objects) | \`${fleetServiceName('default', 'external')}\` | \`kgw-<gateway>-<fleet>\`; shortened to 63 characters ending in a hash when longer (or when the gateway name has dots) |
| KIngress \`domainInternal\` | \`${fleetDomainInternal('default', 'external')}\` | \`<service>.<namespace>.svc.<clusterDomain>\` |
| Envoy \`node.cluster\` (xDS snapshot key) | \`${fleetXdsCluster('default', 'external')}\` | \`<gateway>/<fleet>\` |
| Labels on per-fleet objects | \`${LABEL_MANAGED_BY}: ${MANAGED_BY_KGW}\`, \`${LABEL_GATEWAY}: default\`, \`${LABEL_FLEET}: external\` | |

Two gateways publishing fleets into one namespace can collide (gateway \`a-b\` fleet \`c\` and
gateway \`a\` fleet \`b-c\` both give \`kgw-a-b-c\`). The API server cannot check across gateways,
so choose names that do not collide, or give each gateway its own \`namespace\`.

## Objects kgw creates per fleet (Kubernetes runtime)

All in \`spec.namespace\`, named like the Service, labelled with the three labels above and owned by
the gateway (\`ownerReferences\` with \`controller: true\`, so deleting the gateway deletes them).
kgw writes them with server-side apply (field manager \`kgw\`): it owns the fields it sets and puts
them back when they are changed, and leaves every other field alone. An existing object of the same
name that kgw did not create (no \`${LABEL_MANAGED_BY}: ${MANAGED_BY_KGW}\` label or no owner reference
to the gateway) is never changed: kgw reports it and skips that fleet. Objects of removed fleets (or
an HPA/PDB no longer asked for) are deleted only if they carry kgw's labels and the gateway's owner
reference.

| Kind | When | What |
|---|---|---|
| ServiceAccount | always | no API token mounted: Envoy never calls the API server |
| ConfigMap | always | \`${BOOTSTRAP_PATH.split('/').pop() ?? ''}\`: the Envoy bootstrap (node cluster \`<gateway>/<fleet>\`, xDS at \`${XDS_SERVICE_NAME}.<operator namespace>.svc.<clusterDomain>:${XDS_PORT}\`, admin on the unix socket \`${ENVOY_ADMIN_SOCKET}\` only, readiness listener on :${ENVOY_READY_PORT}; with \`metrics.enabled\`, the stats listener on \`metrics.port\`) |
| Deployment | always | Envoy pods; \`replicas\` unless autoscaled; a bootstrap change rolls the pods (\`${ANNOTATION_BOOTSTRAP_HASH}\` annotation) |
| Service | always | ports \`service.httpPort\`/\`httpsPort\` → container ports \`http\`/\`https\`; type, annotations, externalTrafficPolicy and loadBalancerClass from \`service\` |
| HorizontalPodAutoscaler (autoscaling/v2) | \`autoscaling\` set | CPU utilization target; kgw hands \`spec.replicas\` over without a drop to 1 |
| PodDisruptionBudget (policy/v1) | \`podDisruptionBudget\` set | \`unhealthyPodEvictionPolicy: AlwaysAllow\`, so pods that are not ready never block a node drain |

The Envoy pods:
- run as uid/gid ${ENVOY_UID}, non-root, with a read-only root filesystem, no capabilities, no
  privilege escalation and the RuntimeDefault seccomp profile; the image defaults to
  \`${DEFAULT_ENVOY_IMAGE}\`;
- keep Envoy's admin interface on the unix socket \`${ENVOY_ADMIN_SOCKET}\` (mode 0600), never on a TCP
  port: nothing that connects to the pod's addresses, loopback included, reaches it;
- with \`metrics.enabled\`, serve Envoy's \`${METRICS_PATH}\` (and no other admin path) on
  \`metrics.port\` (container port \`${METRICS_PORT_NAME}\`, not published by the Service), and carry the
  annotations \`prometheus.io/scrape\`, \`prometheus.io/port\`, \`prometheus.io/path\` and the label
  \`${LABEL_METRICS}=${METRICS_LABEL_VALUE}\` (see [Metrics of the Envoy fleets](operations.md#metrics-of-the-envoy-fleets));
- are Ready only once they have their configuration: the readiness probe is \`GET ${READY_PATH}\` on port
  ${ENVOY_READY_PORT}, a listener in the bootstrap that Envoy opens only after its first xDS answer (LDS
  and CDS wait for it without a timeout);
- drain on termination: a preStop hook fails the health check, starts a graceful drain through the
  admin socket (\`drain_listeners?graceful&skip_exit\`, \`--drain-strategy immediate\`: clients are told
  to reconnect elsewhere while the listeners stay open) and waits \`envoy.drainSeconds\`;
  \`terminationGracePeriodSeconds\` is \`drainSeconds + ${TERMINATION_GRACE_EXTRA_SECONDS}\`. The hook needs
  \`/bin/sh\` and \`perl\` (Debian's and Ubuntu's essential perl-base, which the official Envoy image
  has) to speak HTTP over the unix socket; without perl it still waits, without draining.

## Knative configuration kgw writes

With \`knative.configure: true\` (the default) kgw writes, in \`knative.namespace\`:

| ConfigMap | Key | From |
|---|---|---|
| \`${CONFIG_NETWORK}\` | \`${NETWORK_KEYS.ingressClass}\` | \`spec.ingressClass\` |
| \`${CONFIG_NETWORK}\` | \`${NETWORK_KEYS.httpProtocol}\` | \`spec.knative.httpProtocol\` |
| \`${CONFIG_NETWORK}\` | \`${NETWORK_KEYS.externalDomainTLS}\` | \`spec.knative.externalDomainTLS\` |
| \`${CONFIG_NETWORK}\` | \`${NETWORK_KEYS.autocreateClusterDomainClaims}\` | \`spec.knative.autocreateClusterDomainClaims\` |
| \`${CONFIG_NETWORK}\` | \`${NETWORK_KEYS.domainTemplate}\` | \`spec.domains.template\` (only when set) |
| \`${CONFIG_DOMAIN}\` | every key | \`spec.domains.default\` and \`spec.domains.selectors\` (only when \`default\` is set; kgw then owns the whole data) |

Other keys of \`${CONFIG_NETWORK}\` stay with whoever wrote them. For the full sample above:

\`\`\`yaml
# ${CONFIG_NETWORK}
${dataBlock(desiredConfigNetwork(fullSampleKnativeGateway())?.data)}
# ${CONFIG_DOMAIN}
${dataBlock(desiredConfigDomain(fullSampleKnativeGateway())?.data)}
\`\`\`

## metadata

${table(rows(name, 'metadata.name', true, []))}

The name is also the value of the \`${LABEL_GATEWAY}\` label, hence the limit.

## spec

${table(rows(spec, 'spec', true, []))}

Defaults marked "applied by kgw" are not written into the stored object (they depend on other
fields or leave room for later fields); kgw applies them when it reads the gateway.

## Validation rules

Besides the types, ranges and patterns above, the API server enforces these rules (CEL), with
these messages; kgw checks the same rules, with the same messages, on a gateway that did not go
through the API server (the local runtime):

| On | Rule | Message |
|---|---|---|
${celRules.map((r) => `| ${code(r.path === '' ? '(object)' : r.path)} | ${cell(code(r.rule.rule))} | ${cell(text(r.rule.message))} |`).join('\n')}

## status

Written by the operator only (status subresource).

${table(rows(status, 'status', false, []))}

Condition types: \`${CONDITION_READY}\` (the gateway serves: summary of the others),
\`${CONDITION_FLEETS_READY}\` (every fleet has all its replicas ready and connected) and
\`${CONDITION_KNATIVE_CONFIGURED}\` (Knative's ConfigMaps hold what the gateway asks for; the message
names keys kgw had to put back).

## kubectl get columns

| Column | JSONPath | Meaning |
|---|---|---|
${columns}
`;
}
