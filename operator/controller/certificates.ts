// kgw's Knative certificate class (`kgw.certificate.networking.knative.dev`), the controller: every
// KCertificate annotated with that class gets the cert-manager Certificate certificate-mapping.ts
// translates it to, and cert-manager's progress written back into its status. KCertificates of any
// other class are never touched. A cert-manager Certificate that the KCertificate does not control
// is never changed: the KCertificate reports Ready False, reason NotOwned. Only the leader writes
// (both cert-manager Certificates and KCertificate status), and only what differs.
import { type KnativeGateway } from '../api/knativegateway.ts';
import { ApiError, type KubeRest } from '../kube/rest.ts';
import { Reflector, objectKey, type KubeObject } from '../kube/reflector.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import type { Logger } from '../log.ts';
import {
  CM_CERTS_PATH,
  CM_CHALLENGES_PATH,
  type CertManagerCertificate,
  type Challenge,
  KCERTS_PATH,
  type KCertificate,
  type KCertificateStatus,
  SOLVER_LABEL,
  type SolverService,
  certManagerCertificate,
  controlledBy,
  hasKgwCertificateClass,
  specDiffers,
} from './certificate-mapping.ts';
import {
  type KCertStatusOptions,
  condition,
  http01Challenges,
  kcertStatus,
  problemStatus,
  sameKCertStatus,
} from './certificate-status.ts';
export interface CertificateControllerOptions {
  rest: KubeRest;
  log: Logger;
  /** The KnativeGateway whose spec.tls issues certificates (undefined: none does). */
  gateway: () => KnativeGateway | undefined;
  /** Only the leader writes cert-manager Certificates and KCertificate status. */
  leading: () => boolean;
  now?: () => Date;
  /** Delay before retrying a failed reconcile; doubles per failure up to maxRetryMs. Default 500. */
  retryMs?: number;
  maxRetryMs?: number;
}

type KCertObject = KCertificate & KubeObject;
type CMCertObject = CertManagerCertificate & KubeObject;
type ServiceObject = SolverService & KubeObject;
type ChallengeObject = Challenge & KubeObject;

export class CertificateController {
  private readonly o: CertificateControllerOptions;
  private readonly kcerts: Reflector<KCertObject>;
  private readonly certs: Reflector<CMCertObject>;
  private readonly services: Reflector<ServiceObject>;
  private readonly challenges: Reflector<ChallengeObject>;
  /** One reconcile per KCertificate at a time, failures retried with backoff (kube/workqueue.ts). */
  private readonly queue: WorkQueue;
  private running = false;
  private certManagerMissing = false;
  /**
   * Resolves when the KCertificate cache has its first list (the cert-manager caches may never sync:
   * without cert-manager's CRDs they keep retrying).
   */
  readonly synced: Promise<void>;

  constructor(o: CertificateControllerOptions) {
    this.o = o;
    const log = o.log;
    this.queue = new WorkQueue({
      name: 'certificates',
      log,
      concurrency: 1,
      baseDelayMs: o.retryMs ?? 500,
      maxDelayMs: o.maxRetryMs ?? 30_000,
      process: async (key) => {
        const retryAt = await this.reconcile(key);
        if (retryAt !== undefined) this.queue.addAfter(key, retryAt);
      },
    });
    this.kcerts = new Reflector<KCertObject>(o.rest, { path: KCERTS_PATH, log });
    // Without cert-manager (a normal setup: kgw's certificate class is then idle) its APIs answer
    // 404: retried quietly (debug), picked up once cert-manager is installed.
    const noCertManager = (err: unknown) => err instanceof ApiError && err.status === 404;
    this.certs = new Reflector<CMCertObject>(o.rest, { path: CM_CERTS_PATH, log, quiet: noCertManager });
    this.services = new Reflector<ServiceObject>(o.rest, {
      path: '/api/v1/services',
      labelSelector: `${SOLVER_LABEL}=true`,
      log,
    });
    this.challenges = new Reflector<ChallengeObject>(o.rest, {
      path: CM_CHALLENGES_PATH,
      log,
      quiet: noCertManager,
    });
    this.kcerts.onEvent((e) => {
      if (e.type === 'upsert' && hasKgwCertificateClass(e.obj)) this.enqueue(objectKey(e.obj));
      if (e.type === 'delete') this.forget(objectKey(e.obj));
    });
    this.certs.onEvent((e) => {
      // a Certificate is reconciled through the KCertificate of the same name (its owner, or the
      // KCertificate it blocks when foreign)
      const key = objectKey(e.obj);
      const k = this.kcerts.store.get(key);
      if (k && hasKgwCertificateClass(k)) this.enqueue(key);
    });
    const byNamespace = (e: { obj: KubeObject }): void => this.enqueueNamespace(e.obj.metadata.namespace);
    this.services.onEvent(byNamespace);
    this.challenges.onEvent(byNamespace);
    this.synced = this.kcerts.synced;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const r of [this.kcerts, this.certs, this.services, this.challenges]) r.start();
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all([this.kcerts, this.certs, this.services, this.challenges].map((r) => r.stop()));
    await this.queue.stop();
  }

  /** Reconciles every KCertificate of kgw's class again (the gateway changed, leadership was gained). */
  resync(): void {
    for (const k of this.kcerts.store.values()) if (hasKgwCertificateClass(k)) this.enqueue(objectKey(k));
  }

  private enqueue(key: string): void {
    this.queue.add(key);
  }

  private enqueueNamespace(ns: string | undefined): void {
    for (const k of this.kcerts.store.values())
      if (k.metadata.namespace === ns && hasKgwCertificateClass(k)) this.enqueue(objectKey(k));
  }

  private forget(key: string): void {
    this.queue.forget(key);
  }

  /** One pass for one KCertificate; returns ms until it must be looked at again (renewal time). */
  private async reconcile(key: string): Promise<number | undefined> {
    const kcert = this.kcerts.store.get(key);
    if (!kcert || !hasKgwCertificateClass(kcert) || kcert.metadata.deletionTimestamp) return undefined;
    if (!this.o.leading()) return undefined;
    const now = this.o.now?.() ?? new Date();
    const { namespace, name } = kcert.metadata;
    const log = this.o.log;
    const opts: KCertStatusOptions = {};
    if (kcert.metadata.generation !== undefined) opts.generation = kcert.metadata.generation;
    if (kcert.status) opts.previous = kcert.status;

    const desired = certManagerCertificate(kcert, this.o.gateway());
    if ('problem' in desired) {
      await this.writeStatus(kcert, problemStatus(desired.problem, 'False', now, opts));
      return undefined;
    }
    const path = `/apis/cert-manager.io/v1/namespaces/${namespace ?? ''}/certificates`;
    let cm = this.certs.store.get(key);
    if (!cm) {
      try {
        cm = await this.o.rest.request<CMCertObject>('POST', path, desired);
        this.certManagerMissing = false;
        log.info(
          { namespace, name, issuer: desired.spec.issuerRef.name },
          'created cert-manager Certificate',
        );
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          if (!this.certManagerMissing)
            log.warn(
              { namespace, name },
              'cert-manager.io/v1 Certificates are not served; is cert-manager installed?',
            );
          this.certManagerMissing = true;
          const problem = {
            reason: 'CertManagerNotInstalled',
            message: 'the API server does not serve cert-manager.io/v1 Certificates (install cert-manager)',
          };
          await this.writeStatus(kcert, problemStatus(problem, 'Unknown', now, opts));
          throw new Error(problem.message);
        }
        if (!(err instanceof ApiError && err.status === 409)) throw err;
        // it exists, but the cache has not seen it yet (e.g. its CRD was just installed)
        cm = await this.o.rest.get<CMCertObject>(`${path}/${name}`);
      }
    }
    if (!controlledBy(cm, kcert)) {
      const problem = {
        reason: 'NotOwned',
        message: `there is a cert-manager Certificate ${name} this KCertificate does not own`,
      };
      await this.writeStatus(kcert, problemStatus(problem, 'False', now, opts));
      return undefined;
    }
    if (specDiffers(cm, desired)) {
      // only the spec is replaced; resourceVersion in metadata: a concurrent change gives 409 and a retry
      const next: CMCertObject = { ...cm, spec: { ...cm.spec, ...desired.spec } };
      cm = await this.o.rest.request<CMCertObject>('PUT', `${path}/${name}`, next);
      log.info({ namespace, name, issuer: desired.spec.issuerRef.name }, 'updated cert-manager Certificate');
    }
    const challenges = http01Challenges(cm, this.services.store.values(), this.challenges.store.values());
    await this.writeStatus(kcert, kcertStatus(cm, now, { ...opts, challenges }));
    const renewal = cm.status?.renewalTime ? Date.parse(cm.status.renewalTime) : NaN;
    // look again when the renewal time passes (Renewing), with a little slack
    if (!Number.isNaN(renewal) && renewal > now.getTime()) return renewal - now.getTime() + 100;
    return undefined;
  }

  private async writeStatus(kcert: KCertObject, status: KCertificateStatus): Promise<void> {
    if (sameKCertStatus(kcert.status, status) || !this.o.leading()) return;
    const { namespace, name } = kcert.metadata;
    // PUT with the cached resourceVersion: a status computed from a stale KCertificate gets 409
    // and is recomputed from the newer one the watch brings
    await this.o.rest.request<KCertObject>(
      'PUT',
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${namespace ?? ''}/certificates/${name}/status`,
      { ...kcert, status },
    );
    const ready = condition(status.conditions, 'Ready');
    this.o.log.info(
      { namespace, name, ready: ready?.status, reason: ready?.reason, notAfter: status.notAfter },
      'KCertificate status written',
    );
  }
}
