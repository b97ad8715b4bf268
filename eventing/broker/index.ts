// The local Broker: ingress, dispatcher, Triggers and the PingSource stand-in.
export { createBrokerIngress, BROKER_PREFIX } from './ingress.js';
export { createEventAcceptor } from './accept.js';
export { startDispatcher, type Dispatcher, type DispatcherOptions } from './dispatcher.js';
export { triggersFromDeclarations, DEFAULT_BROKER, type Trigger } from './triggers.js';
export { startPingSource } from './ping.js';
