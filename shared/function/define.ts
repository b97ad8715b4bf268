// A function's one declaration: name, routes, scaling, events, schedules, env and its app factory.
// The local runner and the manifest generator both read it; nothing is declared twice.
import type { Hono } from 'hono';
import type { PlatformConfig } from '#shared/config/index';
import type { Database } from '#shared/db/index';
import type { Logger } from '#shared/log/index';
import type { Metrics } from '#shared/metrics/index';
import type { EventPublisher } from '#shared/events/publisher';
import type { EventHandler } from '#shared/events/receive';
import type { ErrorRenderer } from '#shared/http/app';
import { runtimeProblems, type RuntimeDeclaration } from './runtime.js';

/**
 * A public route, as an HTTPRoute path match: `PathPrefix` (default, segment boundaries),
 * `Exact`, or `RegularExpression` (anchored, e.g. `/auth/[^/]+/token(/.*)?` for a
 * per-tenant path; RE2-compatible syntax only).
 */
export interface RouteDeclaration {
  path: string;
  match?: 'PathPrefix' | 'Exact' | 'RegularExpression';
  /** When set, only these methods are routed. */
  methods?: string[];
}

/** Knative Serving autoscaling knobs. */
export interface ScalingDeclaration {
  /** 0 lets the function scale to zero; the long-running exceptions use 1. */
  minScale: number;
  maxScale: number;
  /** `containerConcurrency`: hard limit of in-flight requests per pod (0 = unlimited). */
  containerConcurrency: number;
  /** Soft target for the autoscaler (`autoscaling.knative.dev/target`). */
  target?: number;
  timeoutSeconds: number;
}

/** Subscription to one CloudEvent type through a Trigger (Knative Eventing semantics). */
export interface SubscriptionDeclaration {
  /** Exact-match filter on the `type` attribute. */
  type: string;
  /** Further exact-match attribute filters (e.g. `source`). */
  filters?: Record<string, string>;
  /** Path on the function receiving the event; defaults to `/_events`. */
  path?: string;
  /**
   * `delivery.retry`: retries after the first attempt (default 9: with the default backoff the
   * retries span about 8.5 minutes, enough to outlast a consumer's restart; see RETRY_DEFAULTS).
   */
  retry?: number;
  /** `delivery.backoffDelay` as an ISO 8601 duration (default `PT0.5S`: retry n waits 0.5 s × 2^n). */
  backoffDelay?: string;
  /** `delivery.backoffPolicy` (default exponential). */
  backoffPolicy?: 'exponential' | 'linear';
  /** Send events that exhaust their retries to the dead-letter sink (default true). */
  deadLetter?: boolean;
}

/** A schedule fires a CloudEvent at the function (PingSource in a cluster). */
export interface ScheduleDeclaration {
  name: string;
  /** Standard 5-field cron expression. */
  schedule: string;
  /** Event type sent; the function must subscribe to it. */
  type: string;
  data?: Record<string, unknown>;
}

/** An environment variable the function needs, with where it comes from in a cluster. */
export interface EnvDeclaration {
  required?: boolean;
  description: string;
  /** Taken from a Kubernetes Secret in a cluster. */
  secret?: { name: string; key: string };
  /** Literal default (never for secrets). */
  value?: string;
  /**
   * In a cluster: the URL of this long-running function's Service (`http://<name>.<namespace>.svc.<domain>`),
   * which the generated NetworkPolicy then lets this function reach. Unset on one machine.
   */
  service?: string;
}

/** One kind an operator function watches through an ApiServerSource (resource mode, every namespace). */
export interface WatchDeclaration {
  apiVersion: string;
  kind: string;
  /** The resource (plural) the source's RBAC grants get, list and watch on. */
  resource: string;
  /** Only objects carrying this label key (a `matchExpressions` Exists term). */
  labelExists?: string;
}

/** One RBAC rule of an operator function: cluster-wide, or in the function's own namespace. */
export interface AccessRule {
  /** `''` for the core group. */
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
  /** `own`: a Role in the function's namespace instead of a ClusterRole rule. */
  scope?: 'cluster' | 'own';
}

/**
 * What an operator function does with the Kubernetes API: the events it is sent (one
 * ApiServerSource, with its own service account that may only read what it watches) and what its
 * own service account may do (least privilege: the rules, nothing else).
 * @see https://knative.dev/docs/eventing/sources/apiserversource/
 */
export interface KubernetesDeclaration {
  watches: WatchDeclaration[];
  rules: AccessRule[];
}

/** What the platform hands a function's app factory. */
export interface FunctionContext {
  readonly name: string;
  readonly config: PlatformConfig;
  /** The declared variables, validated; absent optional ones are missing. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly database: Database;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly events: EventPublisher;
}

/** What the app module of a function exports. */
export interface FunctionModule {
  createApp(ctx: FunctionContext): Hono<any> | Promise<Hono<any>>;
  /**
   * CloudEvent handlers by event type. The platform mounts them at `POST /_events` (and at each
   * subscription's `path`): CloudEvents parsing, catalog validation, inbox dedupe in the
   * handler's transaction, 202 only after commit. The product's schema needs an `inbox` table.
   */
  events?: (ctx: FunctionContext) => Readonly<Record<string, EventHandler>>;
  /**
   * Renders the errors the platform answers itself (body too large, no route, the fixed 500) in
   * the function's protocol shape (the vault: Vault's `{"errors": [...]}`); problem+json without.
   */
  renderError?: ErrorRenderer;
  /** Extra readiness checks (e.g. "unsealed"). */
  readiness?: (ctx: FunctionContext) => Promise<{ name: string; ok: boolean; detail?: string }[]>;
  /** Called on SIGTERM after draining, before the database closes. */
  shutdown?: () => Promise<void>;
}

export interface FunctionDeclaration {
  /** Knative Service name: lower-case DNS label, `<product>-<capability>`. */
  name: string;
  product: string;
  description: string;
  routes: RouteDeclaration[];
  scaling: ScalingDeclaration;
  subscribes?: SubscriptionDeclaration[];
  /**
   * Event types the function publishes (through its product's outbox), each in the event
   * catalog. Only a function that emits gets a SinkBinding (`K_SINK`). `'*'` stands for any
   * catalog type: a function that re-publishes others' events (the dead-letter replay).
   */
  emits?: string[];
  schedules?: ScheduleDeclaration[];
  env?: Record<string, EnvDeclaration>;
  /**
   * The shape of the answers the ingress makes itself on the function's routes (URI too long,
   * header fields too large, backend unavailable, timeouts): `problem` (RFC 9457, the default)
   * or `vault` (HashiCorp Vault's `{"errors": [...]}`). The counterpart of the module's
   * `renderError` for what never reaches the function; written on its HTTPRoute as the
   * `ingress.zenokube.io/error-format` annotation.
   */
  errorFormat?: 'problem' | 'vault';
  /** True for the long-running exceptions (ingress proxy, vault unsealer). */
  longRunning?: boolean;
  /** For an operator: its API watches and RBAC (manifests: ApiServerSource, ServiceAccounts, roles, bindings). */
  kubernetes?: KubernetesDeclaration;
  /** Container resources, probes, Node flags and database pool (defaults: see shared/function/runtime.ts). */
  runtime?: RuntimeDeclaration;
  /** Lazy so that importing a declaration stays cheap (cold start, manifest generation). */
  load: () => Promise<FunctionModule>;
}

const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/**
 * Path of the outbox sweep the platform serves where a product's relay runs: the PingSource of the
 * product (or an operator) calls it to deliver what a scaled-to-zero function left in the outbox.
 */
export const OUTBOX_FLUSH_PATH = '/_outbox/flush';

/** In `emits`: any type of the event catalog. */
export const ANY_EVENT_TYPE = '*';

/** Whether a declaration may publish `type` (its `emits` lists it, or `'*'`). */
function declaresEmit(decl: Pick<FunctionDeclaration, 'emits'>, type: string): boolean {
  return (decl.emits ?? []).some((t) => t === type || t === ANY_EVENT_TYPE);
}

/** Throws when a function publishes a type its declaration does not list in `emits`: misuse by our own code. */
export function assertDeclaredEmit(decl: Pick<FunctionDeclaration, 'name' | 'emits'>, type: string): void {
  if (!declaresEmit(decl, type)) throw new TypeError(`function ${decl.name} emits ${type}, which its declaration does not list in emits`);
}

const EVENT_TYPE = /^io\.zenokube\.[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/** Declares a function; checks the declaration so that a typo fails at load, not in a cluster. */
export function defineFunction(decl: FunctionDeclaration): FunctionDeclaration {
  const problems: string[] = [];
  if (!NAME.test(decl.name)) problems.push(`name "${decl.name}" is not a DNS label`);
  if (!decl.name.startsWith(`${decl.product}-`)) problems.push(`name must start with "${decl.product}-"`);
  for (const r of decl.routes) {
    if (!r.path.startsWith('/')) problems.push(`route "${r.path}" must start with /`);
    if (r.match === 'RegularExpression') {
      try {
        new RegExp(`^${r.path}$`);
      } catch {
        problems.push(`route "${r.path}" is not a valid regular expression`);
      }
    }
  }
  const s = decl.scaling;
  if (s.minScale < 0 || s.maxScale < Math.max(1, s.minScale)) problems.push('scaling: need 0 <= minScale <= maxScale, maxScale >= 1');
  if (decl.longRunning && s.minScale < 1) problems.push('a long-running function needs minScale >= 1');
  for (const sub of decl.subscribes ?? []) {
    if (!EVENT_TYPE.test(sub.type)) problems.push(`event type "${sub.type}" is not io.zenokube.<product>.<noun>.<verb>`);
  }
  for (const type of decl.emits ?? []) {
    if (type !== ANY_EVENT_TYPE && !EVENT_TYPE.test(type)) problems.push(`emitted type "${type}" is not io.zenokube.<product>.<noun>.<verb>`);
  }
  if (new Set(decl.emits).size !== (decl.emits?.length ?? 0)) problems.push('emits lists a type twice');
  for (const sch of decl.schedules ?? []) {
    if (sch.schedule.trim().split(/\s+/).length !== 5) problems.push(`schedule "${sch.name}" is not a 5-field cron`);
    if (!(decl.subscribes ?? []).some((x) => x.type === sch.type)) problems.push(`schedule "${sch.name}" fires ${sch.type}, which the function does not subscribe to`);
  }
  for (const rule of decl.kubernetes?.rules ?? []) {
    // Least privilege: every grant names its groups, resources and verbs; no wildcard.
    if (rule.resources.length === 0 || rule.verbs.length === 0) problems.push('kubernetes: a rule needs resources and verbs');
    if ([...rule.apiGroups, ...rule.resources, ...rule.verbs].includes('*')) problems.push(`kubernetes: rule on ${rule.resources.join(',')} uses a wildcard`);
  }
  for (const w of decl.kubernetes?.watches ?? []) if (!w.kind || !w.resource || !w.apiVersion) problems.push('kubernetes: a watch needs apiVersion, kind and resource');
  problems.push(...runtimeProblems(decl.runtime).map((p) => `runtime: ${p}`));
  if (problems.length) throw new TypeError(`function ${decl.name}: ${problems.join('; ')}`);
  return Object.freeze(decl);
}
