// The compiled routing table: what the proxy consults per request. Built by compile.ts, read by match.ts.
import type { Endpoint } from './references.js';
import type { TrieNode } from './path.js';
import type { ExtAuthFilterSpec } from './resources.js';

export interface HeaderOps {
  /** Lower-case name → value, replacing any existing value. */
  set: [string, string][];
  add: [string, string][];
  /** Lower-case names. */
  remove: string[];
}

export interface PathRewrite {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  value: string;
}

export interface RedirectAction {
  scheme: string | undefined;
  hostname: string | undefined;
  port: number | undefined;
  path: PathRewrite | undefined;
  statusCode: number;
}

export interface CompiledBackend {
  /** `namespace/name:port`, the metrics label and circuit-breaker key. */
  key: string;
  weight: number;
  /** undefined when the reference is invalid: requests that would go there get a 500. */
  endpoints: Endpoint[] | undefined;
  requestHeaders: HeaderOps | undefined;
  responseHeaders: HeaderOps | undefined;
  /** The Service port's appProtocol asks for HTTP/2 over cleartext (h2c) to the backend. */
  h2c?: boolean;
}

export interface MirrorAction {
  backend: CompiledBackend;
  /** Probability in [0, 1]. */
  fraction: number;
}

export interface RetryPolicy {
  codes: Set<number>;
  attempts: number;
  backoffMs: number;
}

export interface SessionPolicy {
  type: 'Cookie' | 'Header';
  name: string;
  /** Max-Age in seconds for a permanent cookie. */
  maxAge: number | undefined;
}

export interface ExtAuthAction {
  key: string;
  spec: ExtAuthFilterSpec;
  clientSecret: string | undefined;
}

export interface CompiledRule {
  /** `namespace/name/ruleIndex`, the metrics label. */
  id: string;
  requestHeaders: HeaderOps | undefined;
  responseHeaders: HeaderOps | undefined;
  redirect: RedirectAction | undefined;
  rewrite: { hostname: string | undefined; path: PathRewrite | undefined } | undefined;
  mirrors: MirrorAction[];
  extAuth: ExtAuthAction | undefined;
  /** Set when a filter cannot be honoured: every request gets a 500. */
  broken: boolean;
  backends: CompiledBackend[];
  totalWeight: number;
  requestTimeoutMs: number | undefined;
  backendTimeoutMs: number | undefined;
  retry: RetryPolicy | undefined;
  session: SessionPolicy | undefined;
  /** The shape of the proxy's own answers on this rule (the route's error-format annotation). */
  errorFormat: ErrorFormat;
  /** Largest request body taken (413 beyond), from the route's max-request-body-bytes annotation. */
  maxBodyBytes: number | undefined;
  /** Per-phase deadlines of the route's deadlines annotation, over the proxy's defaults. */
  deadlines: PhaseDeadlines | undefined;
  /** An upstream 503 without Retry-After counts against the endpoint's circuit (the route's circuit-counts-503 annotation). */
  circuitCounts503: boolean;
}

/** Deadlines of the phases of an exchange a route may set (ms; undefined keeps the proxy's). */
export interface PhaseDeadlines {
  /** To receive the whole request body from the client (408 beyond). */
  body: number | undefined;
  /** From the request sent upstream to the response head (504 beyond). */
  firstByte: number | undefined;
  /** Between two reads of the upstream response (the exchange fails beyond). */
  idle: number | undefined;
  /** Longest the client may leave the response untaken (the connection is cut beyond). */
  send: number | undefined;
}

/**
 * `problem`: RFC 9457 problem+json (the default). `vault`: HashiCorp Vault's `{"errors": [...]}`
 * as application/json, for routes whose clients read only that shape.
 */
export type ErrorFormat = 'problem' | 'vault';

export interface ValueMatch {
  /** Lower-case for headers; exact case for query parameters. */
  name: string;
  exact: string | undefined;
  regex: RegExp | undefined;
}

export interface Candidate {
  pathType: 'Exact' | 'PathPrefix' | 'RegularExpression';
  pathValue: string;
  pathRegex: RegExp | undefined;
  method: string | undefined;
  headers: ValueMatch[];
  query: ValueMatch[];
  rule: CompiledRule;
  /** Tie-breakers after path: route creation time (ms), `namespace/name`, rule index, match index. */
  created: number;
  routeKey: string;
  ruleIndex: number;
  matchIndex: number;
}

/** A match of a rule, before it is placed in the table for a route and hostname. */
export type MatchTemplate = Omit<Candidate, 'rule' | 'created' | 'routeKey' | 'ruleIndex' | 'matchIndex'>;

export interface PathTable {
  exact: Map<string, Candidate[]>;
  prefix: TrieNode<Candidate>;
  regex: Candidate[];
}

export interface HostTable {
  exact: Map<string, PathTable>;
  /** Keyed by the suffix including its dot: `*.example.com` → `.example.com`. */
  wildcard: Map<string, PathTable>;
  any: PathTable | undefined;
}

export interface TlsCertificate {
  /** Listener hostname (SNI) or undefined for the default certificate of the port. */
  hostname: string | undefined;
  cert: string;
  key: string;
  /** The listener asks for a client certificate, verified against `ca` (PEM) when given. */
  clientCertificate?: { ca: string | undefined } | undefined;
}

/**
 * Where a passthrough (TLS) port sends a connection, by the server name of its ClientHello: exact
 * names, wildcards keyed by their suffix with its dot, and the route that took any name.
 */
export interface ServerNameTable {
  exact: Map<string, CompiledRule>;
  wildcard: Map<string, CompiledRule>;
  any: CompiledRule | undefined;
}

export interface PortTable {
  gateway: string;
  port: number;
  /** `TLS`: a passthrough port (TLSRoute); its connections are routed by `serverNames`, not `hosts`. */
  protocol: 'HTTP' | 'HTTPS' | 'TLS';
  /** A cleartext port that also serves HTTP/2 by prior knowledge (the Gateway's h2c annotation). */
  h2c: boolean;
  hosts: HostTable;
  /** GRPCRoutes' matches, consulted first for gRPC calls; undefined when no GRPCRoute attached. */
  grpcHosts: HostTable | undefined;
  /** TLSRoutes' hostnames on a TLS passthrough port; undefined on other ports. */
  serverNames?: ServerNameTable;
  certificates: TlsCertificate[];
}

export interface CompiledGateway {
  key: string;
  addresses: string[];
  ports: Map<number, PortTable>;
}
