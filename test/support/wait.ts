import type { Logger } from '../../src/index.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 5000, stepMs = 50 } = {},
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

/** A logger that keeps what it is told (and keeps the test output quiet). */
export interface RecordingLogger extends Logger {
  messages: string[];
}

export function recorder(): RecordingLogger {
  const messages: string[] = [];
  return { messages, warn: (message) => void messages.push(message) };
}
