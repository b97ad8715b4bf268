// Sign-in outcomes as Prometheus counters: the login-failure-spike alert and the auth dashboard
// read them. Counted in plain numbers; prom-client loads only when scraped (cold start).
import type { Metrics } from '#shared/metrics/index';
import { plainCounter, type PlainCounter } from '#shared/metrics/scraped';

/** Why a password sign-in failed; one label value each (bounded: no tenant, no username). */
export type LoginFailureReason = 'bad_password' | 'unknown_user' | 'disabled' | 'throttled';

export interface LoginCounters {
  failed(reason: LoginFailureReason): void;
  succeeded(): void;
}

export function loginCounters(metrics: Metrics): LoginCounters {
  const failures: PlainCounter = plainCounter(metrics, {
    name: 'zeno_auth_login_failures_total',
    help: 'Failed password sign-ins by reason: bad_password, unknown_user, disabled, throttled.',
    labelNames: ['reason'],
  });
  const successes = plainCounter(metrics, { name: 'zeno_auth_logins_total', help: 'Password checks that succeeded (a second factor may still follow).' });
  return {
    failed: (reason) => failures.inc({ reason }),
    succeeded: () => successes.inc(),
  };
}
