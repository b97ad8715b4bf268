// The ExtAuthFilter decision interface the proxy calls; the implementation lives in ext-auth/.
import type { ExtAuthAction } from '../engine/table.js';

export type ExtAuthDecision =
  | {
      allow: true;
      /** Headers to set upstream (any client-sent value of these names is dropped first). */
      headers: [string, string][];
      /** Lower-case names the filter owns: always dropped from the client's request. */
      strip: string[];
    }
  | { allow: false; status: number; headers: [string, string][]; body: Buffer | undefined };

/** What a decision reads of the request (node's IncomingMessage and the proxy's own request both fit). */
export interface AuthRequest {
  method?: string;
  url?: string;
  headers: { [name: string]: string | string[] | undefined; host?: string; authorization?: string };
}

export type ExtAuthDecider = (action: ExtAuthAction, req: AuthRequest) => Promise<ExtAuthDecision>;
