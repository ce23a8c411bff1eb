import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './loopback.js';

/**
 * A real `redis-server` child process on a free port of 127.0.0.1, one per test that needs it, so
 * a test can kill and restart it (the same port: clients reconnect to it) or make it slow. Needs
 * the `redis-server` binary on the PATH (Debian: `apt-get install redis-server`; `.ci/run`
 * installs it).
 */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Whether the process is up now. */
  readonly running: boolean;
  /** Sends one command on a fresh connection and returns its reply (simple, integer, bulk or error text). */
  command(...args: string[]): Promise<string>;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL, no shutdown of any kind) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port (stopping it first when running) and waits for PONG. */
  restart(): Promise<void>;
  /**
   * Makes every client's commands wait `ms` (CLIENT PAUSE ALL): connections stay open and
   * accepted, answers come late. Resolves once the pause is on.
   */
  slow(ms: number): Promise<void>;
  /**
   * Blocks the whole server for `ms` (DEBUG SLEEP): not even a PING is answered meanwhile.
   * Resolves once the command is sent (its answer comes when the sleep ends).
   */
  freeze(ms: number): Promise<void>;
}

export interface RedisServerOptions {
  /**
   * Keeps the data across kill/restart (AOF, fsync on every write, in a temporary directory), as
   * a production Redis is configured. Default false: `--save '' --appendonly no`, a restart
   * comes back empty.
   */
  persistent?: boolean;
  /** Requires this password (`--requirepass`); the helper's own commands then go unauthenticated. */
  password?: string;
}

const running = new Set<ChildProcess>();
// A test run that ends (or a worker that exits) never leaves a redis-server behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

let debugFlag: string[] | undefined;
/** `--enable-debug-command local` exists (and is needed for DEBUG SLEEP) from Redis 7 on. */
function debugCommandFlag(): string[] {
  if (debugFlag === undefined) {
    const version = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    const major = Number(/v=(\d+)/.exec(version)?.[1] ?? '0');
    debugFlag = major >= 7 ? ['--enable-debug-command', 'local'] : [];
  }
  return debugFlag;
}

/** Starts a redis-server on a free loopback port and resolves once it answers PING. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-redis-'));
  const persistence = options.persistent
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']
    : ['--save', '', '--appendonly', 'no'];
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    ...persistence,
    ...debugCommandFlag(),
    ...(options.password !== undefined ? ['--requirepass', options.password] : []),
    '--loglevel',
    'warning',
  ];
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    mkdirSync(dir, { recursive: true });
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output += chunk.toString();
    };
    started.stdout?.on('data', keep);
    started.stderr?.on('data', keep);
    started.on('exit', () => running.delete(started));
    running.add(started);
    child = started;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (started.exitCode !== null || started.signalCode !== null)
        throw new Error(`redis-server on port ${port} exited at start: ${output.trim()}`);
      const answer = await send(port, ['PING']).catch((error: Error) => error.message);
      // A server with a password answers NOAUTH: it is up.
      if (answer === 'PONG' || answer.startsWith('NOAUTH')) return;
      if (Date.now() > deadline)
        throw new Error(`redis-server on port ${port} did not answer PING: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    current.kill(signal);
    await exited;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    command: (...command) => send(port, command),
    async stop() {
      await end('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => end('SIGKILL'),
    async restart() {
      await end('SIGKILL');
      await launch();
    },
    async slow(ms) {
      const reply = await send(port, ['CLIENT', 'PAUSE', String(ms), 'ALL']);
      if (reply !== 'OK') throw new Error(`CLIENT PAUSE answered ${reply}`);
    },
    async freeze(ms) {
      // Not awaited: the answer only comes once the server wakes up.
      send(port, ['DEBUG', 'SLEEP', String(ms / 1000)], ms + 10_000).catch(() => undefined);
      // The sleep starts once the server reads that command: wait until a PING goes unanswered.
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const answered = await send(port, ['PING'], 50).then(
          () => true,
          () => false,
        );
        if (!answered) return;
      }
      throw new Error(`redis-server on port ${port} did not freeze`);
    },
  };
}

/** One command in RESP on a fresh connection; the first reply as text (errors rejected). */
function send(port: number, command: readonly string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buffer = '';
    const done = (error: Error | undefined, value = ''): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(
      () => done(new Error(`redis ${command[0]}: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('error', (error) => done(error));
    socket.on('connect', () => {
      socket.write(
        `*${command.length}\r\n${command.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join('')}`,
      );
    });
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\r\n');
      if (end < 0) return;
      const line = buffer.slice(1, end);
      switch (buffer[0]) {
        case '+':
        case ':':
          return done(undefined, line);
        case '-':
          return done(new Error(line));
        case '$': {
          const length = Number(line);
          if (length < 0) return done(undefined, '');
          if (buffer.length < end + 2 + length) return;
          return done(undefined, buffer.slice(end + 2, end + 2 + length));
        }
        default:
          return done(undefined, line);
      }
    });
  });
}
