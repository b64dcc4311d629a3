/**
 * The Jepsen-style run in `npm test`: 5 CLI member processes behind the fault
 * proxy, a seeded 60-second schedule of the fault kinds today's CLI survives,
 * 12 clients; the history must be linearizable with no lost acknowledged
 * write, no member may exit by itself, and every key must read back after
 * the final heal.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { historyFromJsonl } from '../src/history.js';
import type { ResultRow } from '../src/report/results.js';
import { defaultCliMain, runChaos } from '../src/run.js';
import { DEFAULT_KINDS } from '../src/schedule.js';

const SEED = 20261202;

describe('chaos: 60 s of seeded faults against 5 CLI members', () => {
  it('keeps the history linearizable with no lost acknowledged write', async () => {
    if (!existsSync(defaultCliMain())) throw new Error(`${defaultCliMain()} is missing: run \`pnpm run build\` first`);
    const outDir = await mkdtemp(join(tmpdir(), 'raftwire-chaos-'));
    const lines: string[] = [];
    const v = await runChaos({
      seed: SEED,
      durationMs: 60_000,
      kinds: DEFAULT_KINDS,
      outDir,
      resultsFile: join(outDir, 'chaos.json'),
      log: (l) => lines.push(l),
    });
    const context = `report in ${outDir}\n${lines.join('\n')}`;
    expect(v.linearizable, context).toBe(true);
    expect(v.lostWrites, context).toBe(0);
    expect(
      v.unexpectedExits.map((e) => `${e.lane}: ${e.errors.join(' | ')}`),
      context,
    ).toEqual([]);
    expect(v.finalReadFailures, context).toEqual([]);
    expect(v.pass, context).toBe(true);
    // The run did something: operations were acknowledged, faults of the chosen kinds ran, a leader came back after each heal.
    expect(v.operations.ok, context).toBeGreaterThan(50);
    expect(v.faults, context).toBeGreaterThanOrEqual(7);
    expect(Number.isFinite(v.longestLeaderlessAfterHealMs ?? Number.NaN), context).toBe(true);
    // The report: the history on disk is the one checked, the rows have the bench shape, the picture exists.
    const history = historyFromJsonl(await readFile(join(outDir, 'history.jsonl'), 'utf8'));
    expect(history).toHaveLength(v.operations.total);
    const rows = JSON.parse(await readFile(join(outDir, 'chaos.json'), 'utf8')) as ResultRow[];
    for (const r of rows) expect(Object.keys(r)).toEqual(['name', 'unit', 'value', 'baseline', 'ratio', 'goal']);
    expect(rows.find((r) => r.name === 'lost acknowledged writes')).toMatchObject({ value: 0, goal: '== 0' });
    expect(rows.find((r) => r.name.startsWith('linearizable'))).toMatchObject({ value: 1, goal: '== 1' });
    expect(await readFile(join(outDir, 'timeline.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    console.log(
      `chaos: seed ${SEED}, ${v.faults} faults, ${v.operations.total} operations (${v.operations.ok} ok, ${v.operations.unknown} unknown), linearizable, 0 lost, longest leaderless stretch after a heal ${Math.round(v.longestLeaderlessAfterHealMs ?? 0)} ms, checker ${Math.round(v.checker.elapsedMs)} ms, ${Math.round(v.totalMs / 1000)} s in all`,
    );
    await rm(outDir, { recursive: true, force: true });
  }, 300_000);
});
