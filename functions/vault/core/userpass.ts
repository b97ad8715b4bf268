// userpass: users with an Argon2id password hash (RFC 9106, hash-wasm; OWASP's minimum
// m = 19 MiB, t = 2, p = 1, as ZenoAuth hashes passwords) and token settings; every row MAC'd.
// Wrong passwords are throttled per user *and client address*: after 5 failures from one address
// that address waits (1 min, doubling, at most 15 min) before its next try for that user, while
// the user logs in from anywhere else as usual. An attempt is counted before the password is
// checked, so concurrent guesses cannot overtake the count.
// @see https://developer.hashicorp.com/vault/api-docs/auth/userpass
// @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id
import { randomBytes } from 'node:crypto';
import { argon2Verify, argon2id } from 'hash-wasm';
import { asc, eq, lt, sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import { invalidRequest } from './errors.js';
import type { RowMac } from './integrity.js';
import { nextRowSeq, seqRows, type GoneRow } from './row-seq.js';
import { userpassFailures, userpassUsers } from './schema.js';
import { parseTokenSettings, storedTokenSettings, type TokenSettings } from './token-settings.js';

const ARGON2 = { memorySize: 19456, iterations: 2, parallelism: 1 } as const;
/** Longest password accepted (bytes): bounds the work a caller can make us do. */
const MAX_PASSWORD_BYTES = 1024;
const USERNAME = /^[a-z0-9_.@-]{1,128}$/;

/** Failures from one address before it must wait. */
const FREE_FAILURES = 5;
/** The first wait, doubling with each further failure. */
const FIRST_WAIT_SECONDS = 60;
/** The longest wait. */
const MAX_LOCK_SECONDS = 900;

interface UserpassUser extends TokenSettings {
  username: string;
  passwordHash: string;
}

/** User rows: MAC'd fields identity first, then a fresh `row_seq` value per write (core/row-seq.ts). */
const USERS = seqRows<{ username: string; passwordHash: string; settings: Record<string, unknown>; seq: number }>(
  'userpass_users',
  (r) => r.username,
  (r) => [r.username, r.passwordHash, r.settings],
);

/** Vault lower-cases userpass names. */
export function username(raw: string): string {
  const u = raw.toLowerCase();
  if (!USERNAME.test(u)) throw invalidRequest('invalid username');
  return u;
}

export async function hashPassword(password: string): Promise<string> {
  return argon2id({ password, salt: randomBytes(16), ...ARGON2, hashLength: 32, outputType: 'encoded' });
}

async function verifyPassword(hash: string, password: string): Promise<boolean> {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
  try {
    return await argon2Verify({ hash, password });
  } catch {
    return false;
  }
}

export function passwordField(body: Record<string, unknown>): string {
  const p = body.password;
  if (typeof p !== 'string' || p === '') throw invalidRequest('missing password');
  if (Buffer.byteLength(p, 'utf8') > MAX_PASSWORD_BYTES) throw invalidRequest(`password longer than ${MAX_PASSWORD_BYTES} bytes`);
  return p;
}

/** The user, if its row is the vault's own and no older than one this process saw (else IntegrityError). */
export async function readUser(db: Queryable, mac: RowMac, name: string): Promise<UserpassUser | undefined> {
  const since = mac.clock();
  const [row] = await db.select().from(userpassUsers).where(eq(userpassUsers.username, name));
  if (!row) return undefined;
  USERS.verify(mac, row, since);
  return { username: row.username, passwordHash: row.passwordHash, ...storedTokenSettings(row.settings) };
}

export async function listUsers(db: Queryable): Promise<string[]> {
  const rows = await db.select({ username: userpassUsers.username }).from(userpassUsers).orderBy(asc(userpassUsers.username));
  return rows.map((r) => r.username);
}

/**
 * Creates or updates a user under a fresh seq; a password is required to create one, optional to
 * update. Of two writes racing, the higher seq stays. The seq is remembered when read back (the
 * caller's transaction may still roll back).
 */
export async function writeUser(db: Queryable, mac: RowMac, name: string, body: Record<string, unknown>, passwordHash?: string): Promise<void> {
  const prev = await readUser(db, mac, name);
  const hash = passwordHash ?? prev?.passwordHash;
  if (!hash) throw invalidRequest('missing password');
  const settings = { ...parseTokenSettings(body, prev) } as Record<string, unknown>;
  const row = { username: name, passwordHash: hash, settings, seq: await nextRowSeq(db) };
  const m = USERS.sign(mac, row);
  await db
    .insert(userpassUsers)
    .values({ ...row, mac: m })
    .onConflictDoUpdate({ target: userpassUsers.username, set: { passwordHash: hash, settings, seq: row.seq, mac: m }, setWhere: lt(userpassUsers.seq, row.seq) });
}

/** Deletes the user and its failure counts; remember the rows returned once committed (rememberGone). */
export async function deleteUser(db: Queryable, name: string): Promise<GoneRow[]> {
  const gone = await db.delete(userpassUsers).where(eq(userpassUsers.username, name)).returning({ seq: userpassUsers.seq });
  await db.delete(userpassFailures).where(eq(userpassFailures.username, name));
  return gone.map((g) => ({ table: USERS.table, id: name, seq: g.seq }));
}

/**
 * Counts a login attempt of `name` from `client` (the remote address); run it in a transaction of
 * its own, before the password is checked. The row is locked FOR UPDATE, so attempts from one
 * address are counted one after another: the first FREE_FAILURES + 1 proceed, then each later
 * one waits its turn (FIRST_WAIT_SECONDS, doubling, at most MAX_LOCK_SECONDS). Returns the wait when refused.
 * Times are clock_timestamp(), not now(): a transaction that waited for the row lock started
 * before the one it waited for wrote its time.
 */
export async function countAttempt(tx: Queryable, name: string, client: string): Promise<number | undefined> {
  const [prev] = rowsOf<{ locked: boolean; wait: number }>(
    await tx.execute(sql`
      select locked_until > clock_timestamp() as locked, greatest(1, ceil(extract(epoch from locked_until - clock_timestamp())))::int as wait
      from vault.userpass_failures where username = ${name} and client = ${client} for update`),
  );
  if (prev?.locked) return Number(prev.wait);
  await tx.execute(sql`
    insert into vault.userpass_failures as f (username, client, failures, locked_until)
    values (${name}, ${client}, 1, clock_timestamp())
    on conflict (username, client) do update set
      failures = f.failures + 1,
      locked_until = case when f.failures + 1 > ${FREE_FAILURES}::int
        then clock_timestamp() + make_interval(secs => least(${MAX_LOCK_SECONDS}::int, ${FIRST_WAIT_SECONDS}::int * power(2, least(f.failures - ${FREE_FAILURES}::int, 10))::int))
        else clock_timestamp() end`);
  return undefined;
}

let dummy: Promise<string> | undefined;

/**
 * Checks `password` for `name` after countAttempt let the attempt through; a success clears the
 * address's count. An unknown user costs the same Argon2id work as a known one.
 */
export async function checkPassword(db: Queryable, mac: RowMac, name: string, client: string, password: string): Promise<UserpassUser | undefined> {
  const user = await readUser(db, mac, name);
  if (!user) {
    dummy ??= hashPassword(randomBytes(16).toString('base64'));
    await verifyPassword(await dummy, password);
    return undefined;
  }
  if (!(await verifyPassword(user.passwordHash, password))) return undefined;
  await db.delete(userpassFailures).where(sql`${userpassFailures.username} = ${name} and ${userpassFailures.client} = ${client}`);
  return user;
}
