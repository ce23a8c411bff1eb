import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

// bcryptjs is pure JavaScript: a cost-10 check is ~60 ms of CPU in one piece, and its async
// API only yields every 100 ms. Run on the event loop, a client flooding wrong passwords would
// stall every other request. So checks run in worker threads; the event loop only posts
// messages. The pool is shared by every basicAuth in the process, started on first use, and
// its threads are unref'd while idle so they never keep the process alive.

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
parentPort.on('message', ({ id, password, hash }) => {
  let ok = false;
  try { ok = bcrypt.compareSync(password, hash); } catch { ok = false; }
  parentPort.postMessage({ id, ok });
});`;

/** More checks than this waiting: answer 503 rather than queue without bound. */
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

class BcryptPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { id: number; password: string; hash: string }[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private readonly size = Math.max(1, Math.min(4, availableParallelism() - 1));

  compare(password: string, hash: string): Promise<boolean> {
    if (this.queue.length >= MAX_QUEUED) return Promise.reject(new PoolBusyError());
    const id = this.nextId++;
    const result = new Promise<boolean>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.queue.push({ id, password, hash });
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
    const bcryptPath = createRequire(import.meta.url).resolve('bcryptjs');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath } });
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

let pool: BcryptPool | undefined;

/** Checks `password` against a bcrypt hash off the event loop. */
export function bcryptCompare(password: string, hash: string): Promise<boolean> {
  pool ??= new BcryptPool();
  return pool.compare(password, hash);
}
