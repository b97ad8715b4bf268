// The local Broker: ingress, dispatcher, Triggers and the PingSource stand-in.
export { createBrokerIngress, BROKER_PREFIX, type IngressOptions } from './ingress.js';
export { createEventAcceptor, BROKER_CHANNEL, type AcceptEvent, type Accepted } from './accept.js';
export { startDispatcher, nextStep, type Dispatcher, type DispatcherOptions } from './dispatcher.js';
export { matchesTrigger, triggersFromDeclarations, DEFAULT_BROKER, type Trigger, type TriggerOptions } from './triggers.js';
export { startPingSource, type PingSource, type PingSourceOptions } from './ping.js';
export { parseCron, nextCronTime, type CronSchedule } from './cron.js';
