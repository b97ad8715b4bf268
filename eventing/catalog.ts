// The event catalog: every CloudEvent type a product emits, with its version and payload schema.
// Each product lists its types in eventing/catalog/<product>.ts and is added here.
import { authEvents } from './catalog/auth.js';
import { eventingEvents } from './catalog/eventing.js';
import { createCatalog } from './catalog/lookup.js';
import { lmsEvents } from './catalog/lms.js';
import { mailEvents } from './catalog/mail.js';
import { scopeEvents } from './catalog/scope.js';
import { vaultEvents } from './catalog/vault.js';

export { defineEventType, productOf } from './catalog/define.js';
export { createCatalog, type EventCatalog } from './catalog/lookup.js';

/** The project's catalog, used by every publisher check and every receiver. */
export const catalog = createCatalog([...eventingEvents, ...authEvents, ...vaultEvents, ...lmsEvents, ...mailEvents, ...scopeEvents]);
