import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One benchmark figure beside its raw baseline measured in the same run. */
export interface Result {
  name: string;
  unit: string;
  value: number;
  baseline: number;
  ratio: number;
  /** A comparison on the ratio, e.g. ">= 0.8" or "< 1"; null where none. */
  goal: string | null;
}

export function result(name: string, unit: string, value: number, baseline: number, goal: string | null): Result {
  return { name, unit, value, baseline, ratio: baseline === 0 ? Number.NaN : value / baseline, goal };
}

export function meetsGoal(r: Result): boolean | null {
  if (r.goal === null) return null;
  const m = /^(>=|<=|>|<)\s*([\d.]+)$/.exec(r.goal);
  if (!m) return null;
  const x = Number(m[2]);
  switch (m[1]) {
    case '>=':
      return r.ratio >= x;
    case '<=':
      return r.ratio <= x;
    case '>':
      return r.ratio > x;
    default:
      return r.ratio < x;
  }
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}

/** Prints the table and writes bench/results/<suite>.json. */
export function report(suite: string, results: Result[], baselineLabel: string, opts: { write?: boolean } = {}): void {
  const rows = results.map((r) => {
    const ok = meetsGoal(r);
    return [r.name, r.unit, fmt(r.value), fmt(r.baseline), r.ratio.toFixed(3), r.goal ?? '—', ok === null ? '' : ok ? 'met' : 'MISSED'];
  });
  const head = ['figure', 'unit', 'value', `baseline (${baselineLabel})`, 'ratio', 'goal', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join(' | ')} |`;
  console.log(`\n${suite} benchmark (${new Date().toISOString()}, node ${process.version})\n`);
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  if (opts.write === false) {
    console.log('\n(not written: a smoke run)');
    return;
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', `${suite}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${out}`);
}

/**
 * Operations per second of `fn`, measured over `ms` of wall time after a
 * warm-up. `fn` does `batch` operations per call.
 */
export function opsPerSecond(fn: () => void, ms = 400, batch = 1): number {
  const warm = performance.now() + ms / 4;
  while (performance.now() < warm) fn();
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 16; i++) fn();
    ops += 16 * batch;
    t = performance.now();
  }
  return (ops * 1000) / (t - t0);
}

/**
 * Measures `a` and `b` alternately `rounds` times and keeps each one's best,
 * so both see the same machine load.
 */
export function paired(a: () => void, b: () => void, rounds = 3, ms = 300): [number, number] {
  let bestA = 0;
  let bestB = 0;
  for (let i = 0; i < rounds; i++) {
    bestA = Math.max(bestA, opsPerSecond(a, ms));
    bestB = Math.max(bestB, opsPerSecond(b, ms));
  }
  return [bestA, bestB];
}
