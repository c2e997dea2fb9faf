// The operator's RBAC objects (ClusterRoles, Roles, bindings) and the RBAC reference docs, built
// from the one list of rules in rbac-rules.ts.
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
} from '@kubernetes/client-node';
import { POLICY_GROUP, POLICY_PLURAL } from '../api/routepolicy.ts';
import { commonLabels } from './operator-install.ts';
import { OPERATOR_NAME, OPERATOR_NAMESPACE } from '../api/install.ts';
import { OPERATOR_RULES, ROLES, type RbacRule, type RbacScope } from './rbac-rules.ts';
export function policyRules(scope: RbacRule['scope'], variant: 'plain' | 'olm'): V1PolicyRule[] {
  return rulesFor(scope, variant).map(toPolicyRule);
}

export function rulesFor(scope: RbacRule['scope'], variant: 'plain' | 'olm'): RbacRule[] {
  return OPERATOR_RULES.filter((r) => r.scope === scope && (variant === 'plain' || r.plainOnly !== true));
}

export function toPolicyRule(r: RbacRule): V1PolicyRule {
  const p: V1PolicyRule = { apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] };
  if (r.resourceNames !== undefined) p.resourceNames = [...r.resourceNames];
  return p;
}

/** `# reason` comment text for a rule, as rendered above it in the YAML. */
export function ruleComment(r: RbacRule): string {
  return r.planned !== undefined ? `(${r.planned}) ${r.reason}` : r.reason;
}

export function clusterRole(): V1ClusterRole {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: OPERATOR_NAME, labels: commonLabels() },
    rules: policyRules('cluster', 'plain'),
  };
}

export function clusterRoleBinding(): V1ClusterRoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: OPERATOR_NAME, labels: commonLabels() },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME },
    subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE }],
  };
}

export function namespaceRole(): V1Role {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE, labels: commonLabels() },
    rules: policyRules('namespace', 'plain'),
  };
}

export function namespaceRoleBinding(): V1RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE, labels: commonLabels() },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: OPERATOR_NAME },
    subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE }],
  };
}

/**
 * A ClusterRole that is bound per namespace (kgw-fleet-manager, kgw-knative-config). Its rules are
 * the same in both install modes.
 */
export function scopedClusterRole(scope: 'fleet' | 'knative'): V1ClusterRole {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: ROLES[scope].name, labels: commonLabels() },
    rules: policyRules(scope, 'plain'),
  };
}

/**
 * The RoleBinding that lets the operator use `scope`'s ClusterRole in `namespace` (by default the
 * one the release manifest binds it in). With `namespace: undefined` (the OLM bundle) the binding
 * and its ServiceAccount subject have no namespace: OLM creates it in the install namespace, and
 * RBAC takes a subject without a namespace to be in the binding's.
 */
export function scopedRoleBinding(
  scope: 'fleet' | 'knative',
  where: { namespace: string | undefined } = { namespace: ROLES[scope].boundIn },
): V1RoleBinding {
  const name = ROLES[scope].name;
  const ns = where.namespace;
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name, ...(ns !== undefined ? { namespace: ns } : {}), labels: commonLabels() },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [
      {
        kind: 'ServiceAccount',
        name: OPERATOR_NAME,
        ...(ns !== undefined ? { namespace: OPERATOR_NAMESPACE } : {}),
      },
    ],
  };
}

function mdCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/**
 * docs/rbac.md: every rule of every role with its reason, and where each role is bound (plain
 * install and OLM). Generated, so the table cannot drift from what the manifests grant.
 */
export function rbacDoc(): string {
  const olm: Record<RbacScope, string> = {
    cluster: '`clusterPermissions`',
    namespace: '`permissions` (OLM lifts them to a ClusterRole for an AllNamespaces operator)',
    fleet: 'bundle ClusterRole + RoleBinding in the install namespace',
    knative: '`clusterPermissions` (cluster-wide, still only these names)',
  };
  const scopes: RbacScope[] = ['cluster', 'namespace', 'fleet', 'knative'];
  const roles = scopes
    .map((sc) => {
      const r = ROLES[sc];
      const bound =
        r.boundIn === 'cluster' ? 'ClusterRoleBinding (cluster-wide)' : `RoleBinding in \`${r.boundIn}\``;
      return `| ${r.kind} \`${r.name}\` | ${r.what} | ${bound} | ${olm[sc]} |`;
    })
    .join('\n');
  const rules = scopes
    .flatMap((sc) =>
      rulesFor(sc, 'plain').map((r) => {
        const res = r.resources
          .map((x) => `\`${r.apiGroups[0] ? `${r.apiGroups[0]}/` : ''}${x}\``)
          .join(', ');
        const names = r.resourceNames ? r.resourceNames.map((n) => `\`${n}\``).join(', ') : '';
        const plain = r.plainOnly === true ? ' (plain install only)' : '';
        return `| ${ROLES[sc].kind} \`${ROLES[sc].name}\` | ${res} | ${r.verbs.join(', ')} | ${names} | ${mdCell(ruleComment(r))}${plain} |`;
      }),
    )
    .join('\n');
  return `<!-- Code generated by operator/gen (npm run gen); DO NOT EDIT. -->
# RBAC: what the kgw operator may do, and why

Generated from \`operator/gen/rbac.ts\`, like the roles in \`deploy/kgw.yaml\` (where each reason is a
comment above its rule) and the OLM bundle. How to let kgw run fleets or configure Knative in another
namespace: [operations.md, Security](operations.md#rbac).

## Roles

| role | grants | plain install (\`deploy/kgw.yaml\`) | OLM bundle |
|---|---|---|---|
${roles}

## Rules

| role | resources | verbs | only these names | why |
|---|---|---|---|---|
${rules}
`;
}

/**
 * ClusterRoles that Kubernetes aggregates into its built-in `edit`/`admin` and `view` roles: a
 * namespace's editors manage its RoutePolicies, its viewers read them, without cluster-admin.
 */
export function routePolicyUserRoles(): V1ClusterRole[] {
  const role = (name: string, verbs: string[], aggregateTo: string[]): V1ClusterRole => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: {
      name,
      labels: {
        'app.kubernetes.io/part-of': 'kgw',
        ...Object.fromEntries(
          aggregateTo.map((r) => [`rbac.authorization.k8s.io/aggregate-to-${r}`, 'true']),
        ),
      },
    },
    rules: [{ apiGroups: [POLICY_GROUP], resources: [POLICY_PLURAL], verbs }],
  });
  return [
    role(
      'kgw-routepolicy-edit',
      ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'],
      ['edit', 'admin'],
    ),
    role('kgw-routepolicy-view', ['get', 'list', 'watch'], ['view']),
  ];
}
