import { TICK_MS } from '../shared/demo-time.js';
import type { HeldDelivery } from '../shared/deliveries.js';
import { type MessageInfo, isResponse, messageLabel } from '../shared/message-info.js';
import type { MemberView } from './cluster.js';
import { ROLE_COLORS, ROLE_NAMES, messageStyle } from './colors.js';

/** What the diagram needs to know about a link besides its traffic. */
export interface LinkState {
  cut: boolean;
  /** Whether each end counts the other active (undefined: that end is not running). */
  activeAB: boolean | undefined;
  activeBA: boolean | undefined;
}

/** What one frame shows besides the members. */
export interface FrameInput {
  members: MemberView[];
  links: (a: string, b: string) => LinkState;
  /** Demo time now, and whether it stands still. */
  now: number;
  paused: boolean;
  /** Whether messages are slowed enough to read their labels. */
  slowed: boolean;
  /** The delivery a Step would make. */
  next: HeldDelivery | undefined;
  /** Shown on the canvas while paused. */
  pausedText: string;
}

interface Flight {
  id: number;
  info: MessageInfo;
  heldAt: number;
  due: number;
  /** performance.now() when taken in. */
  realStart: number;
  /** Set when released: it finishes its drawn flight from `fromT` over the rest of MIN_VISIBLE_MS. */
  released?: { real: number; fromT: number };
  /** Set when dropped: drawn crossed out where it was, fading. */
  dropped?: { real: number; t: number };
}

/** A message is drawn for at least this long (real time), even when delivered at once. */
const MIN_VISIBLE_MS = 300;
const DROP_FADE_MS = 900;
const MAX_FLIGHTS = 600;
/** Dots of one type on one direction closer than this (fraction of the link) are drawn as one, with a count. */
const MERGE_T = 0.07;
const LABEL_MAX_DOTS = 16;
const R = 42;
const RING = 7;

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/**
 * The canvas: members on a circle, each with its election timer as a ring
 * that runs down; a line per link (click to cut or heal it); and every
 * message on its way as a dot moving along its link from sender to receiver,
 * where the demo holds it: it freezes when time is paused.
 */
export class Diagram {
  private readonly flights = new Map<number, Flight>();
  private readonly ctx: CanvasRenderingContext2D;
  private readonly w: number;
  private readonly h: number;
  private pos = new Map<string, { x: number; y: number }>();
  private order: string[] = [];
  /** The link under the pointer, `a-b`. */
  hover: string | undefined;
  private fits = true;

  constructor(private readonly canvas: HTMLCanvasElement) {
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

  held(d: HeldDelivery): void {
    if (this.flights.size >= MAX_FLIGHTS) return;
    this.flights.set(d.id, { id: d.id, info: d.info, heldAt: d.heldAt, due: d.due, realStart: performance.now() });
  }

  released(d: HeldDelivery, now: number): void {
    const real = performance.now();
    const f = this.flights.get(d.id);
    if (!f) {
      // Handed on at once (real-time speed): drawn flying after the fact.
      if (this.flights.size < MAX_FLIGHTS)
        this.flights.set(d.id, { id: d.id, info: d.info, heldAt: d.heldAt, due: d.due, realStart: real, released: { real, fromT: 0 } });
      return;
    }
    f.released = { real, fromT: this.progress(f, now, real) };
  }

  dropped(d: HeldDelivery, now: number): void {
    const real = performance.now();
    const f = this.flights.get(d.id);
    const t = f ? this.progress(f, now, real) : 0.5;
    this.flights.set(d.id, { id: d.id, info: d.info, heldAt: d.heldAt, due: d.due, realStart: real, dropped: { real, t } });
  }

  /** Where along its link (0 sender, 1 receiver) a flight is drawn now. */
  private progress(f: Flight, now: number, real: number): number {
    if (f.dropped) return f.dropped.t;
    if (f.released) {
      const left = Math.max(0, MIN_VISIBLE_MS - (f.released.real - f.realStart));
      if (left === 0) return 1;
      return f.released.fromT + (1 - f.released.fromT) * clamp01((real - f.released.real) / left);
    }
    const span = f.due - f.heldAt;
    // Held with no flight time (paused at real-time speed): it waits halfway.
    if (span <= 0) return 0.5;
    return clamp01((now - f.heldAt) / span);
  }

  /** The link under a canvas point (`a-b`), if any. */
  linkAt(x: number, y: number): string | undefined {
    let best: { key: string; d: number } | undefined;
    for (let i = 0; i < this.order.length; i++) {
      for (let j = i + 1; j < this.order.length; j++) {
        const a = this.order[i] as string;
        const b = this.order[j] as string;
        const pa = this.pos.get(a);
        const pb = this.pos.get(b);
        if (!pa || !pb) continue;
        const dx = pb.x - pa.x;
        const dy = pb.y - pa.y;
        const len2 = dx * dx + dy * dy;
        const t = ((x - pa.x) * dx + (y - pa.y) * dy) / len2;
        const len = Math.sqrt(len2);
        // Only the part of the line between the two members (not inside them).
        if (t * len < R + RING || (1 - t) * len < R + RING) continue;
        const d = Math.abs((x - pa.x) * dy - (y - pa.y) * dx) / len;
        if (d < 10 && (!best || d < best.d)) best = { key: `${a}-${b}`, d };
      }
    }
    return best?.key;
  }

  /** Whether every member's text fitted inside its circle in the last frame. */
  get labelsFit(): boolean {
    return this.fits;
  }

  private layout(members: MemberView[]): void {
    // Room above the top member for its ring, below the bottom one for its two lines of text.
    const top = R + RING + 6;
    const bottom = R + RING + 36;
    const ry = (this.h - top - bottom) / 2;
    const cy = top + ry;
    const cx = this.w / 2;
    const rx = Math.min(this.w / 2 - R - 70, ry * 1.6);
    this.pos = new Map();
    this.order = members.map((m) => m.id);
    members.forEach((m, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / members.length;
      this.pos.set(m.id, { x: cx + rx * Math.cos(a), y: cy + ry * Math.sin(a) });
    });
    // Where each member is drawn (CSS pixels), for tests that click a link.
    const layout = JSON.stringify(Object.fromEntries([...this.pos].map(([id, p]) => [id, [Math.round(p.x), Math.round(p.y)]])));
    if (this.canvas.dataset['layout'] !== layout) this.canvas.dataset['layout'] = layout;
  }

  draw(f: FrameInput): void {
    const c = this.ctx;
    const real = performance.now();
    c.clearRect(0, 0, this.w, this.h);
    c.fillStyle = '#fbfcfd';
    c.fillRect(0, 0, this.w, this.h);
    this.layout(f.members);
    this.drawLinks(f);
    this.drawFlights(f, real);
    this.fits = true;
    for (const m of f.members) this.drawMember(m);
    if (f.paused) this.drawPaused(f.pausedText);
    this.canvas.dataset['labelsFit'] = String(this.fits);
  }

  private drawLinks(f: FrameInput): void {
    const c = this.ctx;
    const ms = f.members;
    for (let i = 0; i < ms.length; i++) {
      for (let j = i + 1; j < ms.length; j++) {
        const a = ms[i] as MemberView;
        const b = ms[j] as MemberView;
        const pa = this.pos.get(a.id);
        const pb = this.pos.get(b.id);
        if (!pa || !pb) continue;
        const st = f.links(a.id, b.id);
        const key = `${a.id}-${b.id}`;
        const up = a.state === 'running' && b.state === 'running';
        const active = st.activeAB === true && st.activeBA === true;
        const hovered = this.hover === key;
        c.save();
        c.lineWidth = hovered ? 5 : st.cut ? 2.5 : 2;
        c.strokeStyle = st.cut ? '#e03131' : hovered ? '#495057' : !up ? '#dee2e6' : active ? '#adb5bd' : '#ced4da';
        if (st.cut || !active) c.setLineDash(st.cut ? [8, 6] : [4, 5]);
        c.beginPath();
        c.moveTo(pa.x, pa.y);
        c.lineTo(pb.x, pb.y);
        c.stroke();
        c.restore();
        let label = '';
        if (st.cut) label = hovered ? `✂ cut — click to heal ${a.id}–${b.id}` : '✂ cut';
        else if (hovered) label = `click to cut link ${a.id}–${b.id}`;
        else if (up && !active) label = 'connecting…';
        if (!label) continue;
        const adjacent = j - i === 1 || (i === 0 && j === ms.length - 1);
        const lt = adjacent ? 0.5 : 0.4;
        this.pill(
          pa.x + (pb.x - pa.x) * lt,
          pa.y + (pb.y - pa.y) * lt,
          label,
          st.cut ? '#c92a2a' : '#343a40',
          st.cut ? '#fff5f5' : '#ffffff',
        );
      }
    }
  }

  private pill(x: number, y: number, text: string, fg: string, bg: string): void {
    const c = this.ctx;
    c.font = '12px system-ui, sans-serif';
    const tw = c.measureText(text).width + 12;
    c.fillStyle = bg;
    c.strokeStyle = fg;
    c.lineWidth = 1;
    c.setLineDash([]);
    c.beginPath();
    c.roundRect(x - tw / 2, y - 10, tw, 20, 10);
    c.fill();
    c.stroke();
    c.fillStyle = fg;
    c.textAlign = 'center';
    c.textBaseline = 'middle';
    c.fillText(text, x, y);
  }

  private drawFlights(f: FrameInput, real: number): void {
    const c = this.ctx;
    // Positions, then merge dots of one kind that overlap on one direction.
    const dots: { x: number; y: number; t: number; info: MessageInfo; count: number; dropped: number; next: boolean; key: string }[] = [];
    for (const fl of [...this.flights.values()].sort((a, b) => a.id - b.id)) {
      if (fl.dropped && real - fl.dropped.real > DROP_FADE_MS) {
        this.flights.delete(fl.id);
        continue;
      }
      const t = this.progress(fl, f.now, real);
      if (fl.released && t >= 1) {
        this.flights.delete(fl.id);
        continue;
      }
      const pa = this.pos.get(fl.info.from);
      const pb = this.pos.get(fl.info.to);
      if (!pa || !pb) continue;
      const dx = pb.x - pa.x;
      const dy = pb.y - pa.y;
      const len = Math.hypot(dx, dy) || 1;
      const off = (R + RING) / len;
      const tt = off + (1 - 2 * off) * t;
      // Each direction rides on its own side of the line.
      const nx = (-dy / len) * 7;
      const ny = (dx / len) * 7;
      const key = `${fl.info.from}>${fl.info.to}:${fl.info.type}:${fl.dropped ? 'x' : ''}`;
      const prev = dots.findLast((d) => d.key === key);
      if (prev && Math.abs(prev.t - t) < MERGE_T) {
        prev.count++;
        if (f.next?.id === fl.id) prev.next = true;
        continue;
      }
      dots.push({
        x: pa.x + dx * tt + nx,
        y: pa.y + dy * tt + ny,
        t,
        info: fl.info,
        count: 1,
        dropped: fl.dropped ? clamp01(1 - (real - fl.dropped.real) / DROP_FADE_MS) : 0,
        next: f.next?.id === fl.id,
        key,
      });
    }
    const labels = (f.slowed || f.paused) && dots.length <= LABEL_MAX_DOTS;
    // Label boxes already drawn (and the members' circles): a label goes where it overlaps none, or is left out.
    const placed: Box[] = [...this.pos.values()].map((p) => ({
      x: p.x - R - RING,
      y: p.y - R - RING,
      w: 2 * (R + RING),
      h: 2 * (R + RING),
    }));
    for (const d of dots) {
      const st = messageStyle(d.info.type);
      const r = d.count > 1 ? 8 : 7;
      c.save();
      if (d.dropped > 0) c.globalAlpha = d.dropped;
      if (d.next) {
        c.beginPath();
        c.arc(d.x, d.y, r + 6, 0, Math.PI * 2);
        c.strokeStyle = '#212529';
        c.lineWidth = 2;
        c.setLineDash([3, 3]);
        c.stroke();
        c.setLineDash([]);
      }
      c.beginPath();
      c.arc(d.x, d.y, r, 0, Math.PI * 2);
      if (st.shape === 'ring' || isResponse(d.info.type)) {
        c.fillStyle = '#ffffff';
        c.fill();
        c.lineWidth = 4;
        c.strokeStyle = st.color;
        c.stroke();
      } else {
        c.fillStyle = st.color;
        c.fill();
        c.lineWidth = 1.5;
        c.strokeStyle = '#212529';
        c.stroke();
      }
      if (d.dropped > 0) {
        c.strokeStyle = '#e03131';
        c.lineWidth = 3;
        c.beginPath();
        c.moveTo(d.x - r - 2, d.y - r - 2);
        c.lineTo(d.x + r + 2, d.y + r + 2);
        c.moveTo(d.x + r + 2, d.y - r - 2);
        c.lineTo(d.x - r - 2, d.y + r + 2);
        c.stroke();
      }
      c.restore();
    }
    // Labels after every dot, so no dot covers one, and beside the dots, not on them.
    for (const d of dots) placed.push({ x: d.x - 9, y: d.y - 9, w: 18, h: 18 });
    for (const d of dots) {
      const text = [d.count > 1 ? `×${d.count}` : '', labels ? messageLabel(d.info) : ''].filter(Boolean).join(' ');
      if (text) this.label(text, d.x, d.y, d.count > 1 ? 8 : 7, placed);
    }
  }

  /** Draws a dot's label beside it where it overlaps no other label or member, trying right, left, above and below. */
  private label(text: string, x: number, y: number, r: number, placed: Box[]): void {
    const c = this.ctx;
    c.font = 'bold 11px system-ui, sans-serif';
    const w = c.measureText(text).width + 4;
    const h = 14;
    const spots: Box[] = [
      { x: x + r + 3, y: y - h / 2, w, h },
      { x: x - r - 3 - w, y: y - h / 2, w, h },
      { x: x - w / 2, y: y - r - 3 - h, w, h },
      { x: x - w / 2, y: y + r + 3, w, h },
    ];
    const spot = spots.find((b) => !placed.some((p) => overlaps(p, b)));
    if (!spot) return;
    placed.push(spot);
    c.textAlign = 'left';
    c.textBaseline = 'middle';
    c.lineWidth = 3;
    c.strokeStyle = 'rgba(255,255,255,0.95)';
    c.strokeText(text, spot.x + 2, spot.y + h / 2);
    c.fillStyle = '#212529';
    c.fillText(text, spot.x + 2, spot.y + h / 2);
  }

  /** Sets the largest font (≤ `size`) at which `text` is at most `width` wide; records when even the smallest does not fit. */
  private fit(text: string, width: number, size: number, weight = ''): void {
    const c = this.ctx;
    for (let s = size; s >= 8; s--) {
      c.font = `${weight} ${s}px system-ui, sans-serif`.trim();
      if (c.measureText(text).width <= width) return;
    }
    this.fits = false;
  }

  private drawMember(m: MemberView): void {
    const c = this.ctx;
    const p = this.pos.get(m.id);
    if (!p) return;
    const running = m.state === 'running';
    // The election timer: the ring runs down to zero, then the member campaigns.
    c.save();
    c.beginPath();
    c.arc(p.x, p.y, R + RING / 2 + 1, 0, Math.PI * 2);
    c.strokeStyle = '#e9ecef';
    c.lineWidth = RING;
    c.stroke();
    if (running && m.role === 'leader') {
      c.strokeStyle = '#f59f00';
      c.beginPath();
      c.arc(p.x, p.y, R + RING / 2 + 1, 0, Math.PI * 2);
      c.stroke();
    } else if (running && m.electionTimeout > 0) {
      const elapsed = m.electionElapsed + Math.min(1, m.sinceTick / TICK_MS);
      const left = clamp01(1 - elapsed / m.electionTimeout);
      c.strokeStyle = left < 0.25 ? '#e03131' : m.role === 'follower' ? '#1c7ed6' : '#e8590c';
      c.beginPath();
      c.arc(p.x, p.y, R + RING / 2 + 1, -Math.PI / 2, -Math.PI / 2 + 2 * Math.PI * left);
      c.stroke();
    }
    c.restore();
    // The member.
    c.save();
    c.fillStyle = ROLE_COLORS[m.role] ?? '#f1f3f5';
    c.strokeStyle = m.partitioned ? '#e03131' : running && m.role === 'leader' ? '#e67700' : '#495057';
    c.lineWidth = m.where === 'node' ? 3 : 2;
    if (m.partitioned) c.setLineDash([6, 4]);
    c.beginPath();
    c.arc(p.x, p.y, R, 0, Math.PI * 2);
    c.fill();
    c.stroke();
    if (m.where === 'node') {
      c.beginPath();
      c.arc(p.x, p.y, R - 5, 0, Math.PI * 2);
      c.lineWidth = 1;
      c.stroke();
    }
    c.restore();
    c.fillStyle = '#212529';
    c.textAlign = 'center';
    c.textBaseline = 'middle';
    c.font = 'bold 24px system-ui, sans-serif';
    c.fillText(m.id, p.x, p.y - 13);
    const role = ROLE_NAMES[m.role] ?? m.role;
    this.fit(role, 2 * Math.sqrt(R * R - 12 * 12) - 8, 13, 'bold');
    c.fillText(role, p.x, p.y + 8);
    const term = m.state === 'starting' ? '' : `term ${m.term}`;
    this.fit(term, 2 * Math.sqrt(R * R - 25 * 25) - 6, 12);
    c.fillText(term, p.x, p.y + 24);
    // Under it: where it runs, and its vote while an election is on.
    c.font = 'italic 12px system-ui, sans-serif';
    c.fillStyle = '#495057';
    c.fillText(m.where === 'node' ? 'Node.js member' : 'browser member', p.x, p.y + R + RING + 12);
    let note = '';
    if (m.partitioned) note = 'PARTITIONED';
    else if (running && m.role === 'leader') note = 'sends heartbeats';
    else if (running && m.vote !== '0' && m.role !== 'leader') note = m.vote === m.id ? 'voted for itself' : `voted for ${m.vote}`;
    if (note) {
      c.font = m.partitioned ? 'bold 12px system-ui, sans-serif' : '12px system-ui, sans-serif';
      c.fillStyle = m.partitioned ? '#c92a2a' : '#343a40';
      c.fillText(note, p.x, p.y + R + RING + 27);
    }
  }

  /** Top left (the layouts leave that corner free): a pause sign, PAUSED, and what Step delivers next. */
  private drawPaused(text: string): void {
    const c = this.ctx;
    c.save();
    c.font = '12px system-ui, sans-serif';
    const w = Math.min(300, Math.max(150, c.measureText(text).width + 20));
    const x = 10;
    const y = 10;
    c.fillStyle = '#212529';
    c.beginPath();
    c.roundRect(x, y, w, 44, 6);
    c.fill();
    c.fillStyle = '#fab005';
    c.fillRect(x + 10, y + 8, 4, 12);
    c.fillRect(x + 18, y + 8, 4, 12);
    c.font = 'bold 13px system-ui, sans-serif';
    c.textAlign = 'left';
    c.textBaseline = 'middle';
    c.fillText('PAUSED', x + 30, y + 14);
    c.fillStyle = '#ffffff';
    c.font = '12px system-ui, sans-serif';
    c.fillText(text, x + 10, y + 32, w - 20);
    c.restore();
  }
}
