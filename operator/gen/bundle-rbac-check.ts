// kgw's own checks of the OLM bundle's RBAC, which operator-framework's validators do not make
// (bundle.olm-validate.test.ts runs those): the CSV's permissions and the bundle's RoleBindings
// allow every API call the operator's code makes (KGW_REQUIRED_ACCESS, read from the code, not
// from rbac.ts, so dropping a rule there fails), grant no wildcard and nothing that grants
// permissions, bind only the install strategy's ServiceAccount in the install namespace, and each
// install-strategy deployment runs as a ServiceAccount the permissions are for.
// Checked by bundle-check.ts's checkBundle (tests: bundle-rbac-check.test.ts).

/** One problem: a short id of the check and what is wrong. */
export interface Finding {
  check: string;
  message: string;
}

/** An API call the operator makes, which the CSV's permissions must allow. */
export interface Access {
  apiGroup: string;
  resource: string;
  verb: string;
  /** `namespace`: only needed in the operator's own namespace (CSV permissions may grant it). */
  scope: 'cluster' | 'namespace';
  resourceName?: string;
  /** Where the operator makes the call. */
  by: string;
}

/**
 * What the operator's code calls today (read from the code, independent of rbac.ts, so dropping a
 * rule there fails validation). release.apiserver.test.ts makes these calls for real. `namespace`
 * accesses are needed in the install namespace only: the fleets' objects (their default namespace)
 * and kgw's own Lease and CA Secrets.
 */
export const KGW_REQUIRED_ACCESS: readonly Access[] = [
  ...['get', 'list', 'watch'].map((verb) => ({
    apiGroup: 'networking.internal.knative.dev',
    resource: 'ingresses',
    verb,
    scope: 'cluster' as const,
    by: 'engine.ts KIngress reflector',
  })),
  {
    apiGroup: 'networking.internal.knative.dev',
    resource: 'ingresses/status',
    verb: 'patch',
    scope: 'cluster',
    by: 'engine.ts doWriteStatus',
  },
  ...['list', 'watch'].flatMap((verb) =>
    [
      ['', 'services'],
      ['discovery.k8s.io', 'endpointslices'],
      ['', 'secrets'],
      ['operator.kgw.dev', 'knativegateways'],
      ['apps', 'deployments'],
      ['', 'pods'],
    ].map(([apiGroup, resource]) => ({
      apiGroup: apiGroup ?? '',
      resource: resource ?? '',
      verb,
      scope: 'cluster' as const,
      by: 'engine.ts and fleets/kubernetes.ts reflectors',
    })),
  ),
  {
    apiGroup: '',
    resource: 'namespaces',
    verb: 'get',
    scope: 'cluster',
    by: 'fleets/kubernetes.ts preflight (does the fleet namespace exist)',
  },
  ...['get', 'list', 'watch', 'create', 'patch'].flatMap((verb) =>
    ['config-network', 'config-domain'].map((resourceName) => ({
      apiGroup: '',
      resource: 'configmaps',
      verb,
      scope: 'cluster' as const,
      resourceName,
      by: 'controller/knative-config.ts (under OLM the Knative namespace is not the install namespace)',
    })),
  ),
  ...['list', 'watch'].map((verb) => ({
    apiGroup: 'operator.knative.dev',
    resource: 'knativeservings',
    verb,
    scope: 'cluster' as const,
    by: 'controller/knative-config.ts Knative Operator detection',
  })),
  ...['get', 'list', 'create', 'patch', 'delete'].flatMap((verb) =>
    [
      ['apps', 'deployments'],
      ['', 'services'],
      ['', 'serviceaccounts'],
      ['', 'configmaps'],
      ['policy', 'poddisruptionbudgets'],
      ['autoscaling', 'horizontalpodautoscalers'],
    ].map(([apiGroup, resource]) => ({
      apiGroup: apiGroup ?? '',
      resource: resource ?? '',
      verb,
      scope: 'namespace' as const,
      by: 'fleets/kubernetes-apply.ts (fleets in the install namespace)',
    })),
  ),
  ...['create', 'patch'].map((verb) => ({
    apiGroup: '',
    resource: 'secrets',
    verb,
    scope: 'namespace' as const,
    by: 'fleets/kubernetes.ts xDS client Secrets, kube/kgw-secret.ts CA Secrets',
  })),
];

export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs?: string[];
}

/** The parts of a CSV install strategy these checks read. */
export interface StrategyView {
  deployments?: { name?: string; spec?: { template?: { spec?: { serviceAccountName?: string } } } }[];
  permissions?: { serviceAccountName?: string; rules?: Rule[] }[];
  clusterPermissions?: { serviceAccountName?: string; rules?: Rule[] }[];
}

/** A manifest of the bundle other than the CSV (its file name in manifests/ and its content). */
export interface BundleManifest {
  file: string;
  obj: {
    kind?: string;
    metadata?: { name?: string };
    rules?: Rule[];
    roleRef?: { kind?: string; name?: string };
    subjects?: { kind?: string; name?: string; namespace?: string }[];
    [field: string]: unknown;
  };
}

function covers(rules: readonly Rule[], a: Access): boolean {
  return rules.some(
    (r) =>
      (r.apiGroups ?? []).some((g) => g === a.apiGroup || g === '*') &&
      (r.resources ?? []).some((x) => x === a.resource || x === '*') &&
      (r.verbs ?? []).some((v) => v === a.verb || v === '*') &&
      ((r.resourceNames ?? []).length === 0 ||
        (a.resourceName !== undefined && (r.resourceNames ?? []).includes(a.resourceName))),
  );
}

const GRANTING = ['clusterroles', 'clusterrolebindings', 'roles', 'rolebindings'];
const GRANTING_VERBS = ['create', 'update', 'patch', 'bind', 'escalate'];

/** RBAC problems of a bundle: its install strategy and its other manifests. */
export function checkRbac(
  strategy: StrategyView,
  manifests: readonly BundleManifest[],
  requiredAccess: readonly Access[] = KGW_REQUIRED_ACCESS,
): Finding[] {
  const out: Finding[] = [];
  const error = (check: string, message: string) => out.push({ check, message });
  const permissions = strategy.permissions ?? [];
  const clusterPermissions = strategy.clusterPermissions ?? [];
  const accounts = new Set([...permissions, ...clusterPermissions].map((p) => p.serviceAccountName ?? ''));

  for (const d of strategy.deployments ?? []) {
    const sa = d.spec?.template?.spec?.serviceAccountName ?? 'default';
    if (!accounts.has(sa))
      error(
        'service-accounts',
        `deployment ${d.name ?? ''} runs as ServiceAccount ${sa}, which no permission grants anything`,
      );
  }

  // Bundle RoleBindings (OLM creates them in the install namespace) grant the rules of the bundle
  // (Cluster)Role they name to a ServiceAccount of the install strategy, in that namespace only.
  const bundleRoles = new Map(
    manifests
      .filter((m) => m.obj.kind === 'ClusterRole' || m.obj.kind === 'Role')
      .map((m) => [`${m.obj.kind ?? ''}/${m.obj.metadata?.name ?? ''}`, m.obj.rules ?? []]),
  );
  const allRules = [
    ...[...permissions, ...clusterPermissions].flatMap((p) => p.rules ?? []),
    ...[...bundleRoles.values()].flat(),
  ];
  for (const r of allRules) {
    const what = `rule ${JSON.stringify({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs })}`;
    if ([...(r.apiGroups ?? []), ...(r.resources ?? []), ...(r.verbs ?? [])].includes('*'))
      error('least-privilege', `${what} uses a wildcard`);
    if (
      (r.resources ?? []).some((x) => GRANTING.includes(x)) &&
      (r.verbs ?? []).some((v) => GRANTING_VERBS.includes(v))
    )
      error('least-privilege', `${what} can grant permissions`);
  }

  const boundRules: Rule[] = [];
  for (const m of manifests.filter((x) => x.obj.kind === 'RoleBinding')) {
    const ref = m.obj.roleRef;
    const rules = bundleRoles.get(`${ref?.kind ?? ''}/${ref?.name ?? ''}`);
    if (rules === undefined) {
      error(
        'rbac',
        `manifests/${m.file}: roleRef ${ref?.kind ?? ''} ${ref?.name ?? ''} is not in the bundle`,
      );
      continue;
    }
    const toOperator = (m.obj.subjects ?? []).some(
      (x) => x.kind === 'ServiceAccount' && accounts.has(x.name ?? '') && x.namespace === undefined,
    );
    if (!toOperator)
      error(
        'rbac',
        `manifests/${m.file}: binds no ServiceAccount of the install strategy (a subject without a namespace, ` +
          'so it is the install namespace)',
      );
    else boundRules.push(...rules);
  }

  const clusterRules = clusterPermissions.flatMap((p) => p.rules ?? []);
  const namespaceRules = [...permissions.flatMap((p) => p.rules ?? []), ...boundRules];
  for (const a of requiredAccess) {
    if (covers(clusterRules, a) || (a.scope === 'namespace' && covers(namespaceRules, a))) continue;
    const what = `${a.apiGroup === '' ? '' : `${a.apiGroup}/`}${a.resource}${a.resourceName !== undefined ? ` ${a.resourceName}` : ''}`;
    error('permissions', `no permission allows ${a.verb} ${what} (${a.by})`);
  }
  return out;
}
