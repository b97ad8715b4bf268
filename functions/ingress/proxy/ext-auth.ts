// The ExtAuthFilter decision interface the proxy calls; the implementation lives in ext-auth/.
import type { IncomingMessage } from 'node:http';
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

export type ExtAuthDecider = (action: ExtAuthAction, req: IncomingMessage) => Promise<ExtAuthDecision>;
