/**
 * Reads the total instructions of one callgrind dump (`--dump-instr=no`, events Ir only): its
 * `totals:` line, the sum of the file's cost lines. Not `summary:`, which callgrind 3.19 wrote
 * as 2^64 minus a little for an empty window.
 */
import { readFileSync } from 'node:fs';

export function readTotal(path: string): number {
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.startsWith('totals:')) return Number(line.split(/\s+/)[1]);
  }
  throw new Error(`${path}: no totals line`);
}
