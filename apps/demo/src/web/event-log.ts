import type { RaftEvent, TransportTrace } from '../shared/demo-member.js';

const MAX_LINES = 300;

const TRANSPORT_TEXT: Record<string, string> = {
  'peer:active': 'peer active',
  'peer:inactive': 'peer inactive',
  'message:dropped': 'dropped a message to',
  removed: 'was told it was removed by',
  'stream:attached': 'stream attached to',
  'stream:closed': 'stream closed to',
  'snapshot:progress': 'snapshot progress to',
  'snapshot:done': 'snapshot sent to',
  'snapshot:failed': 'snapshot failed to',
};

/**
 * The events panel: what Raft did (elections, votes, commits, membership,
 * snapshots), the demo's own operations, and — behind a filter — the
 * transport's events (streams, peer activity, drops).
 */
export class EventLog {
  /** Highest committed index already told (several members may tell one commit). */
  private committed = 0;
  private readonly lastDrop = new Map<string, number>();
  private readonly told = new Set<string>();

  constructor(
    private readonly list: HTMLOListElement,
    showTransport: HTMLInputElement,
  ) {
    const apply = (): void => {
      list.classList.toggle('show-transport', showTransport.checked);
    };
    showTransport.addEventListener('change', apply);
    apply();
  }

  /**
   * Adds a line where its time puts it, newest first: the Node member's events arrive with the
   * next status poll, after the page's own events that followed them.
   */
  private line(text: string, cls: string, kind: string, at = Date.now()): void {
    const li = document.createElement('li');
    const t = new Date(at);
    const time = document.createElement('time');
    time.textContent = `${t.toTimeString().slice(0, 8)}.${String(t.getMilliseconds()).padStart(3, '0')}`;
    li.append(time, ` ${text}`);
    li.className = cls;
    li.dataset['kind'] = kind;
    li.dataset['at'] = String(at);
    let before: Element | null = this.list.firstElementChild;
    while (before && Number((before as HTMLElement).dataset['at']) > at) before = before.nextElementSibling;
    this.list.insertBefore(li, before);
    while (this.list.childElementCount > MAX_LINES) this.list.lastElementChild?.remove();
  }

  raft(e: RaftEvent): void {
    if (e.kind === 'committed') {
      if (e.index <= this.committed) return;
      this.committed = e.index;
    } else {
      // Elections and membership are told by one member each; a repeat (a poll seen twice) is dropped.
      const key = `${e.member}:${e.kind}:${e.term}:${e.index}:${e.peer}`;
      if (e.kind !== 'snapshot-sent' && this.told.has(key)) return;
      this.told.add(key);
    }
    this.line(e.text, `raft ${e.kind}`, e.kind, e.at);
  }

  transport(e: TransportTrace): void {
    if (e.event === 'message:dropped') {
      // One line per link per second: the counts are in the links table.
      const k = `${e.member}>${e.peer}`;
      const now = performance.now();
      if ((this.lastDrop.get(k) ?? -Infinity) > now - 1000) return;
      this.lastDrop.set(k, now);
    }
    const bad = e.event === 'peer:inactive' || e.event === 'message:dropped' || e.event === 'snapshot:failed';
    this.line(
      `member ${e.member}: ${TRANSPORT_TEXT[e.event] ?? e.event} ${e.peer}${e.detail ? ` — ${e.detail}` : ''}`,
      `transport${bad ? ' bad' : ''}`,
      e.event,
    );
  }

  /** A demo operation and what really happened. */
  op(text: string, ok: boolean): void {
    this.line(text, ok ? 'op' : 'op bad', 'op');
  }
}
