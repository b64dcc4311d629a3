import type { MessageTrace } from '../shared/demo-member.js';
import type { MemberView } from './cluster.js';
import { PATH_NAMES, ROLE_COLORS, messageColor } from './colors.js';
import type { LinkStats } from './link-stats.js';

interface Flight {
  from: string;
  to: string;
  type: string;
  start: number;
  duration: number;
  count: number;
  /** Sent on a cut link: drawn stopping halfway, crossed out. */
  dropped: boolean;
}

/** What the diagram needs to know about a link besides its traffic. */
export interface LinkState {
  cut: boolean;
  /** Whether each end counts the other active (undefined: that end is not running). */
  activeAB: boolean | undefined;
  activeBA: boolean | undefined;
}

const MIN_FLIGHT_MS = 450;
/** Messages of one type on one direction within this window are drawn as one dot with a count. */
const BATCH_MS = 50;
const MAX_FLIGHTS = 400;

/**
 * The canvas: members on a circle, a line per link (state, path, rate), and
 * every message as a dot travelling along its link, coloured by type.
 */
export class Diagram {
  private flights: Flight[] = [];
  private readonly ctx: CanvasRenderingContext2D;
  private readonly w: number;
  private readonly h: number;

  constructor(canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2d canvas');
    this.ctx = ctx;
    const dpr = Math.min(2, globalThis.devicePixelRatio || 1);
    this.w = canvas.width;
    this.h = canvas.height;
    canvas.style.width = `${this.w}px`;
    canvas.style.height = `${this.h}px`;
    canvas.width = this.w * dpr;
    canvas.height = this.h * dpr;
    ctx.scale(dpr, dpr);
  }

  message(t: MessageTrace, now: number, dropped = false): void {
    const last = this.flights.findLast((f) => f.from === t.from && f.to === t.to && f.type === t.type && f.dropped === dropped);
    if (last && now - last.start < BATCH_MS) {
      last.count++;
      return;
    }
    if (this.flights.length >= MAX_FLIGHTS) {
      const same = this.flights.findLast((f) => f.from === t.from && f.to === t.to);
      if (same) {
        same.count++;
        return;
      }
      this.flights.shift();
    }
    this.flights.push({
      from: t.from,
      to: t.to,
      type: t.type,
      start: now,
      duration: Math.max(MIN_FLIGHT_MS, t.delayMs),
      count: 1,
      dropped,
    });
  }

  private positions(members: MemberView[]): Map<string, { x: number; y: number }> {
    const cx = this.w / 2;
    const cy = this.h / 2 + 4;
    const r = Math.min(this.w, this.h) / 2 - 78;
    const pos = new Map<string, { x: number; y: number }>();
    members.forEach((m, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / members.length;
      pos.set(m.id, { x: cx + r * Math.cos(a) * 1.25, y: cy + r * Math.sin(a) });
    });
    return pos;
  }

  draw(members: MemberView[], links: (a: string, b: string) => LinkState, stats: LinkStats, now: number): void {
    const c = this.ctx;
    c.clearRect(0, 0, this.w, this.h);
    c.fillStyle = '#fbfcfd';
    c.fillRect(0, 0, this.w, this.h);
    const pos = this.positions(members);
    const R = 58;
    c.font = '12px system-ui, sans-serif';
    c.fillStyle = '#495057';
    c.textAlign = 'left';
    c.textBaseline = 'bottom';
    c.fillText('Dots: Raft messages in flight,', 10, this.h - 40);
    c.fillText('sender → receiver, coloured by type.', 10, this.h - 24);
    c.fillText('Line label: transport path · msg/s.', 10, this.h - 8);
    // links
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        const a = members[i] as MemberView;
        const b = members[j] as MemberView;
        const pa = pos.get(a.id);
        const pb = pos.get(b.id);
        if (!pa || !pb) continue;
        const st = links(a.id, b.id);
        const bothRunning = a.state === 'running' && b.state === 'running';
        const active = st.activeAB === true && st.activeBA === true;
        c.save();
        c.lineWidth = active ? 3 : 2;
        c.strokeStyle = st.cut ? '#e03131' : !bothRunning ? '#ced4da' : active ? '#868e96' : '#adb5bd';
        if (st.cut || !active) c.setLineDash([7, 6]);
        c.beginPath();
        c.moveTo(pa.x, pa.y);
        c.lineTo(pb.x, pb.y);
        c.stroke();
        c.restore();
        // label
        // neighbours on the circle: label in the middle; diagonals: nearer one end, so crossing labels do not collide
        const adjacent = j - i === 1 || (i === 0 && j === members.length - 1);
        const lt = adjacent ? 0.5 : 0.62;
        const mx = pa.x + (pb.x - pa.x) * lt;
        const my = pa.y + (pb.y - pa.y) * lt;
        const ab = stats.get(a.id, b.id, now);
        const ba = stats.get(b.id, a.id, now);
        const paths = new Set([...ab.paths, ...ba.paths].filter((p) => p !== 'snapshot'));
        const dropped = ab.dropped + ba.dropped;
        let label: string;
        if (st.cut) label = `✂ cut · ${dropped} dropped`;
        else if (!bothRunning) label = 'member down';
        else if (!active) label = 'connecting…';
        else label = `${[...paths].map((p) => PATH_NAMES[p] ?? p).join(' + ') || 'idle'} · ${ab.rate + ba.rate}/s`;
        if (!st.cut && dropped > 0 && bothRunning) label += ` · ${dropped} dropped`;
        c.font = '11px system-ui, sans-serif';
        const tw = c.measureText(label).width + 10;
        c.fillStyle = st.cut ? '#fff5f5' : 'rgba(255,255,255,0.92)';
        c.strokeStyle = st.cut ? '#e03131' : '#dee2e6';
        c.lineWidth = 1;
        c.setLineDash([]);
        c.beginPath();
        c.roundRect(mx - tw / 2, my - 9, tw, 18, 9);
        c.fill();
        c.stroke();
        c.fillStyle = st.cut ? '#c92a2a' : '#343a40';
        c.textAlign = 'center';
        c.textBaseline = 'middle';
        c.fillText(label, mx, my);
      }
    }
    // messages in flight
    this.flights = this.flights.filter((f) => now - f.start < f.duration);
    for (const f of this.flights) {
      const pa = pos.get(f.from);
      const pb = pos.get(f.to);
      if (!pa || !pb) continue;
      const dx = pb.x - pa.x;
      const dy = pb.y - pa.y;
      const len = Math.hypot(dx, dy) || 1;
      const t = f.dropped ? Math.min(0.5, (now - f.start) / f.duration) : (now - f.start) / f.duration;
      const startOff = R / len;
      const tt = startOff + (1 - 2 * startOff) * t;
      // each direction rides on its own side of the line
      const nx = (-dy / len) * 6;
      const ny = (dx / len) * 6;
      const x = pa.x + dx * tt + nx;
      const y = pa.y + dy * tt + ny;
      const r = f.count > 1 ? 7 : 5;
      c.beginPath();
      c.arc(x, y, r, 0, Math.PI * 2);
      c.fillStyle = messageColor(f.type);
      c.fill();
      c.lineWidth = f.dropped ? 2 : 1;
      c.strokeStyle = f.dropped ? '#e03131' : '#212529';
      c.stroke();
      if (f.dropped) {
        c.beginPath();
        c.moveTo(x - r, y - r);
        c.lineTo(x + r, y + r);
        c.moveTo(x + r, y - r);
        c.lineTo(x - r, y + r);
        c.stroke();
      }
      if (f.count > 1) {
        c.font = 'bold 10px system-ui, sans-serif';
        c.fillStyle = '#212529';
        c.textAlign = 'left';
        c.textBaseline = 'middle';
        c.fillText(`×${f.count}`, x + r + 2, y);
      }
    }
    // members
    for (const m of members) {
      const p = pos.get(m.id);
      if (!p) continue;
      c.save();
      c.fillStyle = ROLE_COLORS[m.state === 'running' ? m.role : m.removed ? 'removed' : 'stopped'] ?? '#f1f3f5';
      c.strokeStyle = m.role === 'leader' && m.state === 'running' ? '#e67700' : m.partitioned ? '#e03131' : '#495057';
      c.lineWidth = m.role === 'leader' && m.state === 'running' ? 4 : 2;
      if (m.partitioned) c.setLineDash([6, 4]);
      c.beginPath();
      if (m.where === 'node') c.roundRect(p.x - R, p.y - R, 2 * R, 2 * R, 14);
      else c.arc(p.x, p.y, R, 0, Math.PI * 2);
      c.fill();
      c.stroke();
      c.restore();
      c.fillStyle = '#212529';
      c.textAlign = 'center';
      c.textBaseline = 'middle';
      c.font = 'bold 15px system-ui, sans-serif';
      const role = m.state === 'running' ? m.role.toUpperCase() : m.removed ? 'REMOVED' : 'STOPPED';
      c.fillText(`${m.id} · ${role}`, p.x, p.y - 30);
      c.font = '12px system-ui, sans-serif';
      c.fillText(`term ${m.term} · log ${m.lastIndex}`, p.x, p.y - 10);
      c.fillText(`commit ${m.commit}`, p.x, p.y + 7);
      c.fillText(`applied ${m.applied}`, p.x, p.y + 23);
      c.font = 'italic 11px system-ui, sans-serif';
      c.fillStyle = '#495057';
      c.fillText(m.where === 'node' ? 'Node.js member' : 'browser member', p.x, p.y + R + 12);
      if (m.partitioned) {
        c.fillStyle = '#c92a2a';
        c.font = 'bold 11px system-ui, sans-serif';
        c.fillText('PARTITIONED', p.x, p.y + R + 26);
      }
    }
  }
}
