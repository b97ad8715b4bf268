// Broker ingress: accepts CloudEvents (binary or structured mode) at a Knative-like broker URL,
// stores the event and one delivery per matching Trigger (group-committed), answers 202 after commit.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Database } from '#shared/db/index';
import { parseCloudEvent } from '#shared/events/cloudevent';
import { handleError, type AppEnv } from '#shared/http/app';
import { AppError, notFound } from '#shared/http/errors';
import { resolveRequestId } from '#shared/http/request-id';
import type { Logger } from '#shared/log/index';
import { createEventAcceptor, type AcceptEvent } from './accept.js';
import type { Trigger } from './triggers.js';

/** Path prefix of every local broker: `/_broker/<namespace>/<broker>`. */
export const BROKER_PREFIX = '/_broker';

interface IngressOptions {
  database: Database;
  triggers: readonly Trigger[];
  log: Logger;
  bodyLimitBytes: number;
  /** Stores accepted events (default: a group-committing acceptor over `database`). */
  accept?: AcceptEvent;
  /**
   * Whether a caller may publish. Default: loopback only. Like a Knative Broker's ingress, which
   * is cluster-internal, the local broker must not take events from the network: a forged event
   * would make subscribers act on it.
   */
  allowCaller?: (remoteAddress: string | undefined) => boolean;
}

/** True for 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
function isLoopback(address: string | undefined): boolean {
  return !!address && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

/** The ingress app, to mount at the root of the runner's port. */
export function createBrokerIngress(opts: IngressOptions): Hono<AppEnv> {
  const accept = opts.accept ?? createEventAcceptor(opts.database, opts.triggers);
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    const requestId = resolveRequestId(c.req.raw.headers);
    c.set('requestId', requestId);
    c.set('log', opts.log.child({ request_id: requestId }));
    await next();
  });
  app.use(
    bodyLimit({
      maxSize: opts.bodyLimitBytes,
      onError: () => {
        throw new AppError(413, 'payload_too_large', 'Payload Too Large', { detail: `The event exceeds ${opts.bodyLimitBytes} bytes.` });
      },
    }),
  );
  const allowCaller = opts.allowCaller ?? isLoopback;
  app.post(`${BROKER_PREFIX}/:namespace/:broker`, async (c) => {
    const remote = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
    if (!allowCaller(remote)) throw new AppError(403, 'forbidden', 'Forbidden', { detail: 'The broker accepts events from this host only.' });
    const broker = `${c.req.param('namespace')}/${c.req.param('broker')}`;
    if (!opts.triggers.some((t) => t.broker === broker) && broker !== 'default/default') {
      throw notFound(`No broker named ${broker}.`);
    }
    const wire = parseCloudEvent(c.req.raw.headers, new Uint8Array(await c.req.arrayBuffer()));
    const result = await accept(broker, { ...wire.attributes }, wire.data);
    // 202 "Event accepted" only now, after the statement committed (Knative data plane).
    return c.body(null, 202, { 'zeno-deliveries': String(result.deliveries), 'zeno-duplicate': String(result.duplicate) });
  });
  app.notFound((c) => notFound(`No route for ${c.req.method} ${c.req.path}.`).getResponse(c.get('requestId')));
  app.onError(handleError);
  return app;
}
