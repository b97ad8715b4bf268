// A small pool of worker threads that run Argon2id (hash-wasm) off the main thread: one hash
// takes tens of milliseconds of pure computation, which on the main thread would stall every
// other request of the process. Workers start on the first job (none at cold start), hold one
// job each, and are unref'd while idle so that they never keep a process alive. Jobs beyond the
// workers wait in a bounded queue; past it the pool refuses at once (503) rather than let a
// burst of sign-ins pile up behind minutes of hashing.
import { Worker } from 'node:worker_threads';
import { AppError } from '#shared/http/errors';

/** Argon2id cost parameters (RFC 9106 §3.1). */
export interface Argon2Params {
  /** Memory in KiB. */
  readonly memorySize: number;
  readonly iterations: number;
  readonly parallelism: number;
}

type Job =
  | { readonly kind: 'hash'; readonly password: string; readonly salt: Uint8Array; readonly params: Argon2Params }
  | { readonly kind: 'verify'; readonly hash: string; readonly password: string };

type Reply = { id: number; ok: true; result: string | boolean } | { id: number; ok: false };

interface Pending {
  readonly id: number;
  readonly job: Job;
  resolve(result: string | boolean): void;
  reject(err: unknown): void;
}

interface Slot {
  readonly worker: Worker;
  current: Pending | undefined;
}

/** The pool is full: the caller may send the request again in a moment. */
export class PasswordHashingBusyError extends AppError {
  constructor() {
    super(503, 'password_hashing_busy', 'Service Unavailable', {
      detail: 'Too many password checks are waiting right now. Send the request again in a moment.',
      headers: { 'retry-after': '1' },
    });
    this.name = 'PasswordHashingBusyError';
  }
}

/**
 * The worker's code, evaluated as a script: a bundled function has no worker file beside it, so
 * the worker imports hash-wasm by the URL the main thread resolved. A failure answers `ok: false`
 * and nothing else: no message of an error about a password leaves the worker.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ready = import(workerData.hashWasm);
parentPort.on('message', async ({ id, job }) => {
  try {
    const { argon2id, argon2Verify } = await ready;
    const result = job.kind === 'hash'
      ? await argon2id({ password: job.password, salt: job.salt, ...job.params, hashLength: 32, outputType: 'encoded' })
      : await argon2Verify({ hash: job.hash, password: job.password });
    parentPort.postMessage({ id, ok: true, result });
  } catch {
    parentPort.postMessage({ id, ok: false });
  }
});
`;

interface Argon2PoolOptions {
  /** Most workers (and so most hashes at once). */
  readonly workers: number;
  /** Most jobs waiting for a worker; one more is refused with PasswordHashingBusyError. */
  readonly maxQueued: number;
}

export interface Argon2Pool {
  /** A PHC-encoded Argon2id hash of `password` with `salt` (32-byte output). */
  hash(password: string, salt: Uint8Array, params: Argon2Params): Promise<string>;
  /** Whether `password` matches the PHC-encoded `hash`; rejects on a malformed hash. */
  verify(hash: string, password: string): Promise<boolean>;
  /** Workers started so far (0 until the first job). */
  readonly started: number;
  /** Stops every worker; queued and running jobs reject. */
  close(): Promise<void>;
}

/** A pool of at most `workers` Argon2id workers, started lazily. */
export function createArgon2Pool(opts: Argon2PoolOptions): Argon2Pool {
  if (!(Number.isInteger(opts.workers) && opts.workers >= 1) || !(Number.isInteger(opts.maxQueued) && opts.maxQueued >= 0)) {
    throw new TypeError('createArgon2Pool: workers must be a positive integer and maxQueued a non-negative one');
  }
  const slots: Slot[] = [];
  const queue: Pending[] = [];
  let nextId = 0;
  let closed = false;
  let hashWasm: string | undefined;

  function start(): Slot {
    hashWasm ??= import.meta.resolve('hash-wasm');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { hashWasm } });
    const slot: Slot = { worker, current: undefined };
    worker.on('message', (reply: Reply) => {
      const p = slot.current;
      if (!p || p.id !== reply.id) return;
      slot.current = undefined;
      if (reply.ok) p.resolve(reply.result);
      else p.reject(new Error(`argon2id ${p.job.kind} failed`));
      next(slot);
    });
    // A worker that dies (out of memory, a crash of the module) fails its job and leaves the
    // pool; the next job starts a fresh one.
    const lost = (err: unknown) => {
      const i = slots.indexOf(slot);
      if (i < 0) return;
      slots.splice(i, 1);
      slot.current?.reject(new Error('argon2id worker stopped', { cause: err }));
      slot.current = undefined;
      if (!closed) drain();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`exit ${code}`)));
    slots.push(slot);
    return slot;
  }

  function run(slot: Slot, p: Pending): void {
    slot.current = p;
    slot.worker.ref();
    slot.worker.postMessage({ id: p.id, job: p.job });
  }

  function next(slot: Slot): void {
    const p = queue.shift();
    if (p) run(slot, p);
    else slot.worker.unref();
  }

  /** Hands queued jobs to idle workers, starting workers up to the limit. */
  function drain(): void {
    while (queue.length > 0) {
      const idle = slots.find((s) => s.current === undefined) ?? (slots.length < opts.workers ? start() : undefined);
      if (!idle) return;
      run(idle, queue.shift()!);
    }
  }

  function submit(job: Job): Promise<string | boolean> {
    if (closed) return Promise.reject(new TypeError('the argon2id pool is closed'));
    const busy = slots.length >= opts.workers && slots.every((s) => s.current !== undefined);
    if (busy && queue.length >= opts.maxQueued) return Promise.reject(new PasswordHashingBusyError());
    return new Promise((resolve, reject) => {
      queue.push({ id: nextId++, job, resolve, reject });
      drain();
    });
  }

  return {
    async hash(password, salt, params) {
      return (await submit({ kind: 'hash', password, salt, params: { memorySize: params.memorySize, iterations: params.iterations, parallelism: params.parallelism } })) as string;
    },
    async verify(hash, password) {
      return (await submit({ kind: 'verify', hash, password })) as boolean;
    },
    get started() {
      return slots.length;
    },
    async close() {
      closed = true;
      for (const p of queue.splice(0)) p.reject(new TypeError('the argon2id pool is closed'));
      await Promise.all(slots.splice(0).map(async (s) => {
        s.current?.reject(new TypeError('the argon2id pool is closed'));
        await s.worker.terminate();
      }));
    },
  };
}
