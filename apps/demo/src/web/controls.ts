import { NODE_MEMBER } from '../shared/session-api.js';
import type { MemberView, PageCluster } from './cluster.js';
import { PATH_NAMES, ROLE_NAMES } from './colors.js';
import type { LinkStats } from './link-stats.js';

/** Runs a user's operation and reports what really happened (the result text, or the failure). */
export type Op = (what: string, fn: () => Promise<string>) => Promise<void>;

export function button(text: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function setButton(b: HTMLButtonElement, text: string, label: string, disabled: boolean, title = ''): void {
  if (b.textContent !== text) b.textContent = text;
  if (b.getAttribute('aria-label') !== label) b.setAttribute('aria-label', label);
  b.disabled = disabled;
  b.title = title;
}

interface Card {
  root: HTMLElement;
  title: HTMLElement;
  stats: HTMLElement;
  kill: HTMLButtonElement;
  partition: HTMLButtonElement;
  remove: HTMLButtonElement;
  snapshot: HTMLButtonElement;
}

/** The member cards: each member's numbers (the stable data- hooks tests read) and its controls. */
export class MemberCards {
  private readonly cards = new Map<string, Card>();

  constructor(
    private readonly root: HTMLElement,
    private readonly cluster: PageCluster,
    private readonly op: Op,
  ) {}

  private card(m: MemberView): Card {
    let c = this.cards.get(m.id);
    if (c) return c;
    const id = m.id;
    const cluster = this.cluster;
    const root = document.createElement('div');
    root.className = 'card';
    root.dataset['nodeId'] = id;
    const title = document.createElement('h3');
    const stats = document.createElement('div');
    stats.className = 'stats';
    const row = document.createElement('div');
    row.className = 'row';
    const kill = button('Kill', `Kill member ${id}`, () => {
      if (kill.dataset['running'] === 'true') {
        void this.op(`kill member ${id}`, async () => {
          const r = await cluster.kill(id);
          if (r.state !== 'stopped') throw new Error(`member ${id} is still ${r.state}`);
          return `killed member ${id}: it stopped with ${r.lastIndex} entries in its log (kept for a restart)`;
        });
      } else {
        void this.op(`restart member ${id}`, async () => {
          const r = await cluster.restart(id);
          if (r.state !== 'running') throw new Error(`member ${id} did not start (it is ${r.state})`);
          return `restarted member ${id}: it recovered ${r.lastIndex} log entries and rejoins as a follower`;
        });
      }
    });
    const partition = button('Partition', `Partition member ${id}`, () => {
      const on = !cluster.isPartitioned(id);
      void this.op(`${on ? 'partition' : 'heal'} member ${id}`, async () => {
        await cluster.setPartitioned(id, on);
        return on ? `partitioned member ${id}: every link of it is cut` : `healed member ${id}: its links are back`;
      });
    });
    const remove = button('Remove', `Remove member ${id}`, () => {
      void this.op(`remove member ${id}`, async () => {
        await cluster.removeMember(id);
        return `removed member ${id} from the cluster`;
      });
    });
    const snapshot = button('Snapshot', `Snapshot member ${id}`, () => {
      void this.op(
        `snapshot member ${id}`,
        async () => `member ${id}: snapshot at index ${await cluster.forceSnapshot(id)}, log compacted`,
      );
    });
    row.append(kill, partition, remove, snapshot);
    root.append(title, stats, row);
    this.root.append(root);
    c = { root, title, stats, kill, partition, remove, snapshot };
    this.cards.set(id, c);
    return c;
  }

  update(views: MemberView[]): void {
    for (const m of views) {
      const c = this.card(m);
      const d = c.root.dataset;
      const removed = m.state === 'removed';
      const running = m.state === 'running';
      d['role'] = m.role;
      d['term'] = String(m.term);
      d['commit'] = String(m.commit);
      d['applied'] = String(m.applied);
      d['lastIndex'] = String(m.lastIndex);
      d['state'] = removed ? 'stopped' : m.state;
      d['partitioned'] = String(m.partitioned);
      d['electionElapsed'] = String(m.electionElapsed);
      d['electionTimeout'] = String(m.electionTimeout);
      c.root.className = `card ${m.role}`;
      const where = m.where === 'node' ? 'Node.js' : 'browser';
      c.title.textContent = `Member ${m.id} · ${where}`;
      const vote = running && m.vote !== '0' ? ` · voted ${m.vote}` : '';
      c.stats.textContent = removed
        ? 'removed from the cluster'
        : m.state === 'starting'
          ? 'starting…'
          : `${ROLE_NAMES[m.role] ?? m.role} · term ${m.term} · commit ${m.commit} · applied ${m.applied} · log ${m.lastIndex}${vote}`;
      const starting = m.state === 'starting';
      setButton(
        c.kill,
        running || starting ? 'Kill' : 'Restart',
        `${running || starting ? 'Kill' : 'Restart'} member ${m.id}`,
        removed || starting,
      );
      c.kill.dataset['running'] = String(running);
      const part = m.partitioned;
      setButton(c.partition, part ? 'Heal' : 'Partition', `${part ? 'Heal' : 'Partition'} member ${m.id}`, removed || starting);
      setButton(c.remove, 'Remove', `Remove member ${m.id}`, removed || starting);
      setButton(c.snapshot, 'Snapshot', `Snapshot member ${m.id}`, !running);
    }
  }
}

function pathText(paths: string[]): string {
  return paths.length === 0 ? '—' : paths.map((p) => PATH_NAMES[p] ?? p).join(' + ');
}

function activeText(v: boolean | undefined): string {
  return v === undefined ? '—' : v ? 'active' : 'inactive';
}

interface LinkRow {
  row: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
  btn: HTMLButtonElement;
}

/** The transport's view of each link: path used each way, whether each end counts the other active, rate, drops. */
export class LinksTable {
  private readonly rows = new Map<string, LinkRow>();

  constructor(
    private readonly table: HTMLTableElement,
    private readonly cluster: PageCluster,
    private readonly stats: LinkStats,
    private readonly op: Op,
  ) {
    const head = table.createTHead().insertRow();
    for (const h of ['link', 'path a→b', 'path b→a', 'peer a→b / b→a', 'msg/s', 'dropped', '']) {
      const th = document.createElement('th');
      th.textContent = h;
      head.append(th);
    }
  }

  /** Cuts or heals a–b, as its button and a click on the diagram's line do. */
  toggle(a: string, b: string): void {
    const cut = !this.cluster.isCut(a, b);
    void this.op(`${cut ? 'cut' : 'heal'} link ${a}–${b}`, async () => {
      await this.cluster.setLinkCut(a, b, cut);
      return cut ? `cut link ${a}–${b}: messages on it are lost` : `healed link ${a}–${b}`;
    });
  }

  update(views: MemberView[], now: number): void {
    const ids = views.filter((v) => v.state !== 'removed').map((v) => v.id);
    const body = this.table.tBodies[0] ?? this.table.createTBody();
    const live = new Set<string>();
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const a = ids[i] as string;
        const b = ids[j] as string;
        const key = `${a}-${b}`;
        live.add(key);
        let r = this.rows.get(key);
        if (!r) {
          const row = body.insertRow();
          row.dataset['link'] = key;
          const cells = Array.from({ length: 6 }, () => row.insertCell());
          const btn = button('Cut', `Cut link ${a}–${b}`, () => this.toggle(a, b));
          row.insertCell().append(btn);
          r = { row, cells, btn };
          this.rows.set(key, r);
        }
        const ab = this.stats.get(a, b, now);
        const ba = this.stats.get(b, a, now);
        const cut = this.cluster.isCut(a, b);
        const [c0, c1, c2, c3, c4, c5] = r.cells as [
          HTMLTableCellElement,
          HTMLTableCellElement,
          HTMLTableCellElement,
          HTMLTableCellElement,
          HTMLTableCellElement,
          HTMLTableCellElement,
        ];
        c0.textContent = `${a} ↔ ${b}${a === NODE_MEMBER ? ' (Node.js)' : ''}${cut ? ' ✂' : ''}`;
        c1.textContent = pathText(ab.paths);
        c2.textContent = pathText(ba.paths);
        c3.textContent = `${activeText(this.cluster.linkActive(a, b))} / ${activeText(this.cluster.linkActive(b, a))}${cut ? ' (cut)' : ''}`;
        c4.textContent = String(ab.rate + ba.rate);
        c5.textContent = String(ab.dropped + ba.dropped);
        r.row.className = cut ? 'cut' : '';
        r.row.dataset['cut'] = String(cut);
        setButton(r.btn, cut ? 'Heal' : 'Cut', `${cut ? 'Heal' : 'Cut'} link ${a}–${b}`, false);
      }
    }
    for (const [key, r] of this.rows) {
      if (live.has(key)) continue;
      r.row.remove();
      this.rows.delete(key);
    }
  }
}
