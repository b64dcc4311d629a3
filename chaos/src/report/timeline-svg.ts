/**
 * The run as one picture (SVG): time runs left to right; faults are bands
 * across the whole height, labelled at the top; one lane per member shows
 * what its `/v1/status` said (leader, follower, candidate, no answer); one
 * lane shows when the cluster had no confirmed leader; one lane per client
 * shows its operations coloured by outcome. Operations are drawn per pixel
 * column (the worst outcome in the column wins), so a ten-minute run stays a
 * small file; the operations of a non-linearizability witness are outlined.
 */
import type { KvOperation } from '../history.js';
import type { LeaderSample, StatusSample } from '../monitor.js';
import type { FaultRecord } from '../nemesis.js';

export interface TimelineInput {
  title: string;
  /** ms covered. */
  durationMs: number;
  lanes: string[];
  samples: readonly StatusSample[];
  leaders: readonly LeaderSample[];
  pollMs: number;
  faults: readonly FaultRecord[];
  ops: readonly KvOperation[];
  /** Operation ids to outline (the witness). */
  highlight: ReadonlySet<number>;
}

const LEFT = 110;
const PLOT = 1600;
const MEMBER_H = 16;
const CLIENT_H = 9;
const GAP = 3;

const STATE_COLOUR: Record<string, string> = {
  StateLeader: '#1f4e9c',
  StateFollower: '#9cc3f0',
  StateCandidate: '#f2c94c',
  StatePreCandidate: '#f7e08f',
};
const OUTCOME_COLOUR = { ok: '#3a9d5d', fail: '#9e9e9e', unknown: '#f08a24' } as const;
const FAULT_COLOUR: Record<string, string> = {
  kill: '#d64545',
  torn: '#a02c6d',
  'torn-extra': '#c2589a',
  stop: '#e07b39',
  restart: '#c99a2e',
  partition: '#7b4fc9',
  isolate: '#5a3a9c',
  oneway: '#9b6fe0',
  cut: '#3a7bd5',
  delay: '#2aa198',
  loss: '#4f9d9d',
  slow: '#6b8e23',
  member: '#8d6e63',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function timelineSvg(input: TimelineInput): string {
  const T = Math.max(1, input.durationMs);
  const x = (t: number): number => LEFT + (Math.max(0, Math.min(T, t)) / T) * PLOT;
  const clients = [...new Set(input.ops.map((o) => o.client))].sort((a, b) => {
    const na = Number(a.slice(1));
    const nb = Number(b.slice(1));
    return Number.isNaN(na) || Number.isNaN(nb) ? a.localeCompare(b) : na - nb;
  });
  const top = 40;
  const memberTop = top;
  const leaderTop = memberTop + input.lanes.length * (MEMBER_H + GAP) + 4;
  const clientTop = leaderTop + MEMBER_H + 10;
  const height = clientTop + clients.length * (CLIENT_H + 2) + 60;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LEFT + PLOT + 20}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${LEFT}" y="16" font-size="13" font-weight="bold">${esc(input.title)}</text>`,
  );
  // Faults: bands over everything, labels on top where they fit (the band's tooltip names every fault).
  let labelEnd = 0;
  for (const f of input.faults) {
    const x0 = x(f.start);
    const x1 = x(f.healed ?? T);
    const c = FAULT_COLOUR[f.kind] ?? '#999';
    out.push(
      `<rect x="${x0.toFixed(1)}" y="${top - 8}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${height - top - 44}" fill="${c}" fill-opacity="0.12"><title>${esc(`${f.kind}: ${f.detail}`)}</title></rect>`,
    );
    if (x0 >= labelEnd) {
      out.push(`<text x="${(x0 + 2).toFixed(1)}" y="${top - 10}" fill="${c}" font-size="10">${esc(f.kind)}</text>`);
      labelEnd = x0 + 6 * f.kind.length + 6;
    }
    for (const lane of f.lanes) {
      const i = input.lanes.indexOf(lane);
      if (i >= 0) {
        out.push(
          `<rect x="${x0.toFixed(1)}" y="${memberTop + i * (MEMBER_H + GAP) - 1}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${MEMBER_H + 2}" fill="none" stroke="${c}" stroke-width="2"/>`,
        );
      }
    }
  }
  // Members.
  input.lanes.forEach((lane, i) => {
    const y = memberTop + i * (MEMBER_H + GAP);
    out.push(
      `<text x="4" y="${y + 12}">${esc(lane)}</text>`,
      `<rect x="${LEFT}" y="${y}" width="${PLOT}" height="${MEMBER_H}" fill="#e0e0e0"/>`,
    );
    const mine = input.samples.filter((s) => s.lane === lane);
    let runStart = -1;
    let runState = '';
    let runId = '';
    const flush = (end: number) => {
      if (runStart < 0) return;
      out.push(
        `<rect x="${x(runStart).toFixed(1)}" y="${y}" width="${Math.max(0.5, x(end) - x(runStart)).toFixed(1)}" height="${MEMBER_H}" fill="${STATE_COLOUR[runState] ?? '#bbb'}"><title>${esc(`member ${runId}: ${runState}`)}</title></rect>`,
      );
    };
    for (let j = 0; j < mine.length; j++) {
      const s = mine[j] as StatusSample;
      const prevT = j > 0 ? (mine[j - 1] as StatusSample).t : s.t;
      // A gap in the answers (member down or stopped) ends a run.
      const gap = s.t - prevT > 2.5 * input.pollMs;
      if (runStart >= 0 && (s.state !== runState || s.id !== runId || gap)) {
        flush(gap ? prevT + input.pollMs : s.t);
        runStart = -1;
      }
      if (runStart < 0) {
        runStart = s.t;
        runState = s.state;
        runId = s.id;
      }
    }
    if (mine.length > 0) flush((mine[mine.length - 1] as StatusSample).t + input.pollMs);
    // Member IDs where they change.
    let lastId = '';
    for (const s of mine) {
      if (s.id !== lastId) {
        out.push(`<text x="${(x(s.t) + 2).toFixed(1)}" y="${y + 12}" font-size="10" fill="#fff">${esc(s.id)}</text>`);
        lastId = s.id;
      }
    }
  });
  // Leaderless stretches.
  out.push(`<text x="4" y="${leaderTop + 12}">no leader</text>`);
  let from: number | null = null;
  for (const l of input.leaders) {
    if (l.leader === null && from === null) from = l.t;
    if (l.leader !== null && from !== null) {
      out.push(
        `<rect x="${x(from).toFixed(1)}" y="${leaderTop}" width="${Math.max(1, x(l.t) - x(from)).toFixed(1)}" height="${MEMBER_H}" fill="#d64545"/>`,
      );
      from = null;
    }
  }
  if (from !== null)
    out.push(
      `<rect x="${x(from).toFixed(1)}" y="${leaderTop}" width="${Math.max(1, x(T) - x(from)).toFixed(1)}" height="${MEMBER_H}" fill="#d64545"/>`,
    );
  // Clients, one pixel column at a time.
  const rank = { none: 0, ok: 1, fail: 2, unknown: 3 } as const;
  const names = ['none', 'ok', 'fail', 'unknown'] as const;
  clients.forEach((c, i) => {
    const y = clientTop + i * (CLIENT_H + 2);
    out.push(`<text x="4" y="${y + 8}" font-size="9">${esc(c)}</text>`);
    const cols = new Uint8Array(PLOT);
    for (const op of input.ops) {
      if (op.client !== c) continue;
      const a = Math.floor(x(op.invoke) - LEFT);
      const b = Math.max(a, Math.floor(x(op.complete ?? T) - LEFT));
      const r = rank[op.outcome];
      for (let k = Math.max(0, a); k <= Math.min(PLOT - 1, b); k++) if ((cols[k] as number) < r) cols[k] = r;
    }
    let k = 0;
    while (k < PLOT) {
      const r = cols[k] as number;
      let e = k + 1;
      while (e < PLOT && cols[e] === r) e++;
      if (r > 0) {
        const name = names[r] as keyof typeof OUTCOME_COLOUR;
        out.push(`<rect x="${LEFT + k}" y="${y}" width="${e - k}" height="${CLIENT_H}" fill="${OUTCOME_COLOUR[name]}"/>`);
      }
      k = e;
    }
  });
  for (const op of input.ops) {
    if (!input.highlight.has(op.id)) continue;
    const i = clients.indexOf(op.client);
    const y = clientTop + i * (CLIENT_H + 2);
    out.push(
      `<rect x="${(x(op.invoke) - 1).toFixed(1)}" y="${y - 1}" width="${Math.max(3, x(op.complete ?? T) - x(op.invoke) + 2).toFixed(1)}" height="${CLIENT_H + 2}" fill="none" stroke="#d00" stroke-width="2"><title>${esc(`#${op.id} ${op.kind} ${op.key}`)}</title></rect>`,
    );
  }
  // Time axis and legend.
  const axisY = height - 48;
  const stepS = T > 300_000 ? 60 : T > 120_000 ? 30 : T > 30_000 ? 5 : 1;
  for (let s = 0; s * 1000 <= T; s += stepS) {
    out.push(
      `<line x1="${x(s * 1000).toFixed(1)}" y1="${axisY}" x2="${x(s * 1000).toFixed(1)}" y2="${axisY + 4}" stroke="#333"/>`,
      `<text x="${x(s * 1000).toFixed(1)}" y="${axisY + 15}" text-anchor="middle" font-size="10">${s}s</text>`,
    );
  }
  const legend: [string, string][] = [
    ['leader', STATE_COLOUR.StateLeader as string],
    ['follower', STATE_COLOUR.StateFollower as string],
    ['candidate', STATE_COLOUR.StateCandidate as string],
    ['no answer', '#e0e0e0'],
    ['op ok', OUTCOME_COLOUR.ok],
    ['op fail', OUTCOME_COLOUR.fail],
    ['op unknown', OUTCOME_COLOUR.unknown],
  ];
  let lx = LEFT;
  for (const [label, colour] of legend) {
    out.push(
      `<rect x="${lx}" y="${axisY + 24}" width="10" height="10" fill="${colour}"/>`,
      `<text x="${lx + 14}" y="${axisY + 33}">${label}</text>`,
    );
    lx += 24 + label.length * 6;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
