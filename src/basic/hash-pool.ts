import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HASH_WORKER_SOURCE } from './hash-worker-source.js';
import type { StoredHash } from './hashes.js';

// Every slow hash kind runs in worker threads, and the event loop only posts messages:
// bcryptjs is pure JavaScript (a cost-10 check is ~60 ms of CPU in one piece), a SHA-crypt
// check is 5,000 rounds and more (~10 ms here at the default), an apr1 check 1,000 MD5 rounds
// (1-5 ms), and Node's hashes are synchronous. On the event loop, a client flooding wrong or
// long passwords would stall every other request: the requests that arrive in one turn of the
// loop are all checked in that turn. The pool is shared by every basicAuth in the process,
// started on first use, and its threads are unref'd while idle so they never keep the process
// alive.

/**
 * More checks than this waiting for a thread: answer 503 rather than queue without bound. A
 * flood then costs at most this many passwords of memory (each within basicAuth's length
 * cap), and a request never waits behind more than this many checks.
 */
export const MAX_QUEUED = 256;

export class PoolBusyError extends Error {
  constructor() {
    super('password hashing queue is full');
  }
}

interface Pending {
  resolve(ok: boolean): void;
  reject(error: Error): void;
}

interface Job {
  id: number;
  stored: StoredHash;
  password: string;
}

class HashPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private readonly size = Math.max(1, Math.min(4, availableParallelism() - 1));

  verify(stored: StoredHash, password: string): Promise<boolean> {
    if (this.queue.length >= MAX_QUEUED) return Promise.reject(new PoolBusyError());
    const id = this.nextId++;
    const result = new Promise<boolean>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.queue.push({ id, stored, password });
    this.dispatch();
    return result;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? this.spawn();
      if (worker === undefined) return;
      const job = this.queue.shift()!;
      this.busy.set(worker, job.id);
      worker.ref();
      worker.postMessage(job);
    }
  }

  private spawn(): Worker | undefined {
    if (this.workers.length >= this.size) return undefined;
    const resolve = createRequire(import.meta.url).resolve;
    const worker = new Worker(HASH_WORKER_SOURCE, {
      eval: true,
      workerData: { bcryptPath: resolve('bcryptjs'), unixCryptPath: resolve('unix-crypt-td-js') },
    });
    worker.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
      worker.unref();
      this.busy.delete(worker);
      this.pending.get(id)?.resolve(ok);
      this.pending.delete(id);
      this.idle.push(worker);
      this.dispatch();
    });
    worker.on('error', () => this.retire(worker));
    worker.on('exit', () => this.retire(worker));
    // Unref'd only now: attaching a 'message' listener refs the worker's port again. It is
    // ref'd while it holds a job (so a pending check is answered) and unref'd when idle.
    worker.unref();
    this.workers.push(worker);
    return worker;
  }

  /** A dead worker fails its current check (never passes it) and is replaced on demand. */
  private retire(worker: Worker): void {
    const index = this.workers.indexOf(worker);
    if (index === -1) return;
    this.workers.splice(index, 1);
    const idleAt = this.idle.indexOf(worker);
    if (idleAt !== -1) this.idle.splice(idleAt, 1);
    const id = this.busy.get(worker);
    this.busy.delete(worker);
    if (id !== undefined) {
      this.pending.get(id)?.reject(new Error('password hashing worker stopped'));
      this.pending.delete(id);
    }
    this.dispatch();
  }
}

let pool: HashPool | undefined;

/**
 * Whether `password` matches a bcrypt, SHA-crypt, apr1 or DES entry, computed off the event
 * loop. Rejects with {@link PoolBusyError} when {@link MAX_QUEUED} checks already wait.
 */
export function verifyInPool(
  stored: Exclude<StoredHash, { kind: 'sha1' }>,
  password: string,
): Promise<boolean> {
  pool ??= new HashPool();
  return pool.verify(stored, password);
}
