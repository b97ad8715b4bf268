// What every grant handler receives once the tenant is known and the client authenticated.
import type { RequestMeta } from '../core/audit.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Client, Tenant } from '../core/schema.js';

export interface GrantContext {
  rt: AuthRuntime;
  tenant: Tenant;
  issuer: string;
  client: Client;
  params: URLSearchParams;
  meta: RequestMeta;
}
