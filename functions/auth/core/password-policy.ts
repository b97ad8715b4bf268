// The rule for a new password, applied at sign-up, reset and change: a minimum length and no
// password known from a breach, nothing else (NIST SP 800-63B §5.1.1.2: "Verifiers SHOULD NOT
// impose other composition rules"; "the verifier SHALL compare the prospective secrets against a
// list that contains values known to be commonly-used, expected, or compromised").
import { openBreachList, type BreachList } from './breached-passwords.js';
import { MAX_PASSWORD_BYTES } from './passwords.js';

/** The default minimum length (NIST asks at least 8; we ask a little more). */
const DEFAULT_MIN_PASSWORD_LENGTH = 10;

export interface PasswordPolicy {
  readonly minLength: number;
  /** Why `password` is refused, in words for the page; undefined when it is acceptable. */
  problem(password: string, username: string): Promise<string | undefined>;
}

/** Length, size and username only: the part of the rule that needs no list. */
export function passwordProblem(password: string, username: string, minLength = DEFAULT_MIN_PASSWORD_LENGTH): string | undefined {
  if ([...password].length < minLength) return `Use at least ${minLength} characters.`;
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return 'That password is too long.';
  if (password.trim().toLowerCase() === username.trim().toLowerCase()) return 'Do not use your username as your password.';
  return undefined;
}

/** The policy with `minLength` and, when given, the breach list. */
export function createPasswordPolicy(opts: { minLength?: number | undefined; breachList?: BreachList | undefined } = {}): PasswordPolicy {
  const minLength = opts.minLength ?? DEFAULT_MIN_PASSWORD_LENGTH;
  return {
    minLength,
    async problem(password, username) {
      const basic = passwordProblem(password, username, minLength);
      if (basic) return basic;
      if (opts.breachList && (await opts.breachList.isBreached(password))) return 'This password appears in a list of passwords exposed in data breaches. Choose another one.';
      return undefined;
    },
  };
}

/**
 * The policy the environment configures (read once at boot): a bad length or an unreadable list
 * file stops the function from starting rather than letting every password through.
 */
export async function loadPasswordPolicy(env: Readonly<Record<string, string | undefined>>): Promise<PasswordPolicy> {
  const raw = env.ZENO_AUTH_PASSWORD_MIN_LENGTH;
  const minLength = raw === undefined ? undefined : Number(raw);
  if (minLength !== undefined && !(Number.isInteger(minLength) && minLength >= 8 && minLength <= 64)) {
    throw new TypeError('ZENO_AUTH_PASSWORD_MIN_LENGTH must be a whole number from 8 to 64');
  }
  const path = env.ZENO_AUTH_BREACHED_PASSWORDS_FILE;
  const breachList = path ? await openBreachList(path) : undefined;
  return createPasswordPolicy({ minLength, breachList });
}
