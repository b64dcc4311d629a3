/**
 * The run's figures as rows in the shape every `bench/results/*.json` file
 * uses: `{name, unit, value, baseline, ratio, goal}`. A chaos run has no
 * baseline to compare with, so `baseline` and `ratio` are null and a goal
 * (`== 0`, `<= 5000`, …) is read against `value`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface ResultRow {
  name: string;
  unit: string;
  value: number;
  baseline: number | null;
  ratio: number | null;
  /** A comparison, e.g. "== 0" or ">= 1"; on `ratio` when there is a baseline, else on `value`. Null: none. */
  goal: string | null;
}

export function row(name: string, unit: string, value: number, goal: string | null = null): ResultRow {
  return { name, unit, value, baseline: null, ratio: null, goal };
}

/** Whether a row meets its goal (null when it has none or the goal cannot be read). */
export function meetsGoal(r: ResultRow): boolean | null {
  if (r.goal === null) return null;
  const m = /^(==|>=|<=|>|<)\s*(-?[\d.]+)$/.exec(r.goal.trim());
  if (!m) return null;
  const x = Number(m[2]);
  const v = r.baseline === null ? r.value : (r.ratio ?? Number.NaN);
  switch (m[1]) {
    case '==':
      return v === x;
    case '>=':
      return v >= x;
    case '<=':
      return v <= x;
    case '>':
      return v > x;
    default:
      return v < x;
  }
}

/** A plain table of the rows. */
export function formatRows(rows: readonly ResultRow[]): string {
  const cells = rows.map((r) => {
    const ok = meetsGoal(r);
    const v = Number.isInteger(r.value) ? String(r.value) : r.value.toFixed(2);
    return [r.name, v, r.unit, r.goal ?? '', ok === null ? '' : ok ? 'met' : 'MISSED'];
  });
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...cells.map((c) => (c[i] as string).length)));
  return cells
    .map((c) =>
      c
        .map((x, i) => (i === 1 ? x.padStart(widths[i] as number) : x.padEnd(widths[i] as number)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function writeRows(file: string, rows: readonly ResultRow[]): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(rows, null, 2)}\n`);
}
