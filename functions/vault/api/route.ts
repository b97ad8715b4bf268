// What a route of the Vault API declares, and the request it receives.
import type { Acl, Capability } from '#functions/vault/core/acl';
import type { Token } from '#functions/vault/core/schema';

/** Vault's logical operations; HTTP methods map onto them (GET ?list=true and LIST are `list`). */
export type Operation = 'read' | 'list' | 'update' | 'delete' | 'patch';

export interface VaultRequest {
  requestId: string;
  operation: Operation;
  /** The Vault path, without `/v1/` and without a trailing slash except for lists. */
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
  /** The media type of the body, lower-case, without parameters. */
  contentType: string;
  remoteAddress: string | undefined;
  /** Present on authenticated routes. */
  token: Token | undefined;
  clientToken: string | undefined;
  acl: Acl | undefined;
}

export interface VaultResponse {
  status: number;
  /** Omitted for 204. */
  body?: Record<string, unknown>;
  /** What the audit device records of the response (HMAC'd); defaults to `body`. */
  auditData?: unknown;
}

export type Handler = (req: VaultRequest, match: RegExpExecArray) => Promise<VaultResponse>;

export interface VaultRoute {
  /** Matched against the Vault path (anchored). */
  pattern: RegExp;
  /** Login endpoints: no token needed. */
  unauthenticated?: boolean;
  handlers: Partial<Record<Operation, Handler>>;
  /**
   * The capability the operation needs at `req.path`; the default maps the operation onto the
   * capability of the same name. KV writes answer `create` or `update` by existence.
   */
  capability?: (req: VaultRequest, match: RegExpExecArray) => Capability | Promise<Capability>;
  /**
   * Its `read` and `list` handlers change nothing. Their request audit row is then written with
   * the response row in one statement, before the answer leaves: a failed audit write still
   * fails the request, and nothing was served or changed unaudited.
   */
  readsOnly?: boolean;
  /** Also require `sudo` (Vault's root-protected paths). */
  sudo?: boolean;
}
