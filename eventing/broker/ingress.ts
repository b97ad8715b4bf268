// Broker ingress: accepts CloudEvents (binary or structured mode) at a Knative-like broker URL,
// stores the event and one delivery per matching Trigger in one statement, answers 202 after commit.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { parseCloudEvent } from '#shared/events/cloudevent';
import { handleError, type AppEnv } from '#shared/http/app';
import { AppError, notFound } from '#shared/http/errors';
import { resolveRequestId } from '#shared/http/request-id';
import type { Logger } from '#shared/log/index';
import { matchesTrigger, type Trigger } from './triggers.js';

/** Channel the dispatcher listens on; the payload is the broker name. */
export const BROKER_CHANNEL = 'zeno_broker';

/** Path prefix of every local broker: `/_broker/<namespace>/<broker>`. */
export const BROKER_PREFIX = '/_broker';

export interface IngressOptions {
  database: Database;
  triggers: readonly Trigger[];
  log: Logger;
  bodyLimitBytes: number;
}

/** Stores one event and its fan-out; returns the number of deliveries created (0 for a duplicate). */
export async function acceptEvent(
  database: Database,
  triggers: readonly Trigger[],
  broker: string,
  attributes: Record<string, string>,
  data: Uint8Array | undefined,
): Promise<{ duplicate: boolean; deliveries: number }> {
  const matched = triggers
    .filter((t) => t.broker === broker && matchesTrigger(t, attributes))
    .map((t) => ({ trigger: t.name, subscriber: t.subscriber }));
  const rows = await database.query<{ inserted: number; fanout: number }>(sql`
    with e as (
      insert into eventing.events (broker, id, source, type, attributes, data)
      values (${broker}, ${attributes.id}, ${attributes.source}, ${attributes.type}, ${JSON.stringify(attributes)}::jsonb,
              ${data === undefined ? null : Buffer.from(data.buffer, data.byteOffset, data.byteLength)}::bytea)
      on conflict (broker, source, id) do nothing
      returning seq
    ), d as (
      insert into eventing.deliveries (event_seq, trigger, subscriber)
      select e.seq, t.trigger, t.subscriber from e, jsonb_to_recordset(${JSON.stringify(matched)}::jsonb) as t(trigger text, subscriber text)
      returning 1
    )
    select (select count(*) from e)::int as inserted, (select count(*) from d)::int as fanout,
           pg_notify(${BROKER_CHANNEL}, ${broker}) as notified`);
  const row = rows[0]!;
  return { duplicate: Number(row.inserted) === 0, deliveries: Number(row.fanout) };
}

/** The ingress app, to mount at the root of the runner's port. */
export function createBrokerIngress(opts: IngressOptions): Hono<AppEnv> {
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
  app.post(`${BROKER_PREFIX}/:namespace/:broker`, async (c) => {
    const broker = `${c.req.param('namespace')}/${c.req.param('broker')}`;
    if (!opts.triggers.some((t) => t.broker === broker) && broker !== 'default/default') {
      throw notFound(`No broker named ${broker}.`);
    }
    const wire = parseCloudEvent(c.req.raw.headers, new Uint8Array(await c.req.arrayBuffer()));
    const result = await acceptEvent(opts.database, opts.triggers, broker, { ...wire.attributes }, wire.data);
    // 202 "Event accepted" only now, after the statement committed (Knative data plane).
    return c.body(null, 202, { 'zeno-deliveries': String(result.deliveries), 'zeno-duplicate': String(result.duplicate) });
  });
  app.notFound((c) => notFound(`No route for ${c.req.method} ${c.req.path}.`).getResponse(c.get('requestId')));
  app.onError(handleError);
  return app;
}
