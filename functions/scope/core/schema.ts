// ZenoScope's tables in the `scope` schema: only the inbox of the events it receives (its resync);
// everything else it knows lives in the Kubernetes API.
import { pgSchema } from 'drizzle-orm/pg-core';
import { inboxTable } from '#shared/events/tables';

export const scope = pgSchema('scope');

export const inbox = inboxTable(scope);
