#!/usr/bin/env node
/**
 * `pnpm chaos`: a Jepsen-style run against CLI members on 127.0.0.1. Exits 0
 * only when the history is linearizable and no acknowledged write was lost,
 * 1 otherwise, 2 on a bad command line.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runChaos } from './run.js';
import { DEFAULT_KINDS, EXCLUDED_KINDS, FAULT_KINDS, type FaultKind, parseKinds } from './schedule.js';

const HELP = `pnpm chaos — a seeded fault schedule against 5 raftwire CLI members, with a linearizability check

usage: pnpm chaos [--minutes N | --seconds N] [--seed S] [--faults kind,kind,...] [--out DIR]
                  [--clients N] [--keys N] [--results FILE | --no-results] [--keep-data]

  --minutes N, --seconds N  how long clients and faults run (default 1 minute)
  --seed S                  schedule seed (default: random, printed); same seed, same schedule
  --faults LIST             fault kinds (default: ${DEFAULT_KINDS.join(',')})
                            all kinds: ${FAULT_KINDS.join(',')}
  --out DIR                 report directory (default .cache/chaos/<time>-seed<S>)
  --clients N               concurrent clients (default 12); --keys N: key set size (default 8)
  --results FILE            result rows (default bench/results/chaos.json); --no-results: none
  --keep-data               keep the members' data directories after a passing run

The report directory holds history.jsonl, verdict.json, summary.txt, faults.json, timeline.svg,
status.jsonl and every member's log (logs/). Exit code 0 only when linearizable with 0 lost writes,
no member crashed, and every key read back after the final heal.
`;

function positiveInt(flag: string, text: string | undefined, def: number, max: number): number {
  if (text === undefined) return def;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) throw new Error(`${flag}: want a whole number from 1 to ${max}`);
  return Number(text);
}

async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        minutes: { type: 'string' },
        seconds: { type: 'string' },
        seed: { type: 'string' },
        faults: { type: 'string' },
        out: { type: 'string' },
        clients: { type: 'string' },
        keys: { type: 'string' },
        results: { type: 'string' },
        'no-results': { type: 'boolean' },
        'keep-data': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`chaos: ${(err as Error).message}\n(see pnpm chaos --help)\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const s = (k: string) => values[k] as string | undefined;
  let durationMs: number;
  let seed: number;
  let kinds: FaultKind[];
  let clients: number;
  let keys: number;
  try {
    if (s('minutes') !== undefined && s('seconds') !== undefined) throw new Error('give --minutes or --seconds, not both');
    durationMs =
      s('seconds') !== undefined
        ? positiveInt('--seconds', s('seconds'), 60, 86_400) * 1000
        : positiveInt('--minutes', s('minutes'), 1, 1440) * 60_000;
    seed = s('seed') === undefined ? (Math.random() * 2 ** 31) >>> 0 : positiveInt('--seed', s('seed'), 1, 2 ** 32 - 1);
    kinds = s('faults') === undefined ? [...DEFAULT_KINDS] : parseKinds(s('faults') as string);
    clients = positiveInt('--clients', s('clients'), 12, 256);
    keys = positiveInt('--keys', s('keys'), 8, 10_000);
  } catch (err) {
    process.stderr.write(`chaos: ${(err as Error).message}\n(see pnpm chaos --help)\n`);
    return 2;
  }
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = s('out') ?? join(root, '.cache', 'chaos', `${stamp}-seed${seed}`);
  const resultsFile = values['no-results'] ? null : (s('results') ?? join(root, 'bench', 'results', 'chaos.json'));
  const excluded = kinds.filter((k) => EXCLUDED_KINDS[k]);
  for (const k of excluded) process.stdout.write(`note: ${k} is outside the default set: ${EXCLUDED_KINDS[k]}\n`);
  const v = await runChaos({
    seed,
    durationMs,
    kinds,
    outDir,
    clients,
    keys,
    resultsFile,
    keepData: values['keep-data'] === true,
  });
  return v.pass ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
