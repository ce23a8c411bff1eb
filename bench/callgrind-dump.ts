/**
 * Reads one callgrind dump (`--dump-instr=no`, events Ir only): its total instructions, and the
 * part spent in V8's garbage collector.
 *
 * The collector's share is what a window of requests cannot count fairly: a window either
 * contains a major collection (or the incremental marking steps and marking write barriers
 * before one) or it does not, which moved single-window figures by 20% and more. So each
 * window's mutator figure (total minus collector) is reported per window, and the collector's
 * cost is amortized over all the windows of the run.
 *
 * The collector's cost is the inclusive cost of every call that enters one of the functions
 * below from a function that is not one of them (so nested calls are not counted twice).
 */
import { readFileSync } from 'node:fs';

const COLLECTOR =
  /^v8::internal::(Heap::CollectGarbage|Heap::CollectAllGarbage|Heap::HandleGCRequest|Heap::PerformGarbageCollection|Heap::StartIncrementalMarking|Heap::FinalizeIncrementalMarking|AllocationCounter::InvokeAllocationObservers|IncrementalMarking::|MarkingBarrier::|WriteBarrier::Marking|ScavengerCollector::|Scavenger::|MarkCompactCollector::|MinorMarkCompactCollector::|Sweeper::|ScavengeJob::|MemoryReducer::)/;

export interface DumpTotals {
  total: number;
  collector: number;
}

export function readDump(path: string): DumpTotals {
  const names = new Map<string, string>();
  const nameOf = (spec: string) => {
    // "(12) name" defines id 12; "(12)" refers back to it.
    const match = /^\((\d+)\)(?:\s+(.*))?$/.exec(spec);
    const [, id = '', name] = match ?? [];
    if (match === null) return spec;
    if (name !== undefined) names.set(id, name);
    return names.get(id) ?? spec;
  };
  let total = 0;
  let collector = 0;
  let current = '';
  let callee = '';
  let callCost = false;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.startsWith('summary:') || line.startsWith('totals:')) total = Number(line.split(/\s+/)[1]);
    else if (line.startsWith('fn=')) current = nameOf(line.slice(3));
    else if (line.startsWith('cfn=')) callee = nameOf(line.slice(4));
    else if (line.startsWith('calls=')) callCost = true;
    else if (callCost && /^[+\-*\d]/.test(line)) {
      callCost = false;
      if (COLLECTOR.test(callee) && !COLLECTOR.test(current)) collector += Number(line.split(/\s+/)[1] ?? 0);
    }
  }
  return { total, collector };
}
