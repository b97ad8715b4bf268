// What the authorization flow's steps share once the tenant (and usually the client) is known.
import type { RequestMeta } from '../core/audit.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Client, Tenant } from '../core/schema.js';

export interface FlowContext {
  rt: AuthRuntime;
  tenant: Tenant;
  issuer: string;
  client: Client;
  meta: RequestMeta;
}
