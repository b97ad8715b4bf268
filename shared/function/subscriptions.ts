// What a subscription's Trigger matches. A type the function's own schedule fires comes from a
// PingSource through the Broker, and a PingSource always sends `dev.knative.sources.ping`: its
// Trigger matches that type and the declared one in the `zenotype` extension. Shared by the
// manifest generator and the local Broker so both route schedules alike.
import { PING_SOURCE_TYPE, SCHEDULE_EXTENSIONS } from '#shared/events/schedule';
import type { FunctionDeclaration, SubscriptionDeclaration } from './define.js';

/** The exact-match attribute filters of the subscription's Trigger (`type` included). */
export function triggerFilters(decl: FunctionDeclaration, sub: SubscriptionDeclaration): Record<string, string> {
  const scheduled = (decl.schedules ?? []).some((s) => s.type === sub.type);
  const type: Record<string, string> = scheduled ? { type: PING_SOURCE_TYPE, [SCHEDULE_EXTENSIONS.type]: sub.type } : { type: sub.type };
  return { ...sub.filters, ...type };
}
