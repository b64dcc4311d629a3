import type { EntryView } from '../shared/log-view.js';
import type { MemberView } from './cluster.js';
import { ROLE_SHORT, termColor } from './colors.js';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

/**
 * Every member's log as a strip of entries, one row per member, columns
 * aligned by log index so a missing or different entry stands out. Each
 * entry is coloured by its term and shows its value; entries after the
 * member's commit index are dashed (stored, not committed yet).
 */
export class LogStrips {
  constructor(
    private readonly root: HTMLElement,
    private readonly columns = 13,
  ) {}

  update(members: MemberView[]): void {
    const shown = members.filter((m) => m.state !== 'removed');
    const maxLast = Math.max(0, ...shown.map((m) => m.log.lastIndex));
    const first = Math.max(1, maxLast - this.columns + 1);
    const rows: HTMLElement[] = [];
    const head = el('div', 'log-row log-head');
    head.append(el('span', 'who', 'log index →'));
    const headCells = el('span', 'cells');
    for (let i = first; i < first + this.columns; i++) headCells.append(el('span', 'cell index', i <= maxLast ? String(i) : ''));
    head.append(headCells);
    rows.push(head);
    for (const m of shown) rows.push(this.row(m, first));
    this.root.replaceChildren(...rows);
  }

  private row(m: MemberView, first: number): HTMLElement {
    const row = el('div', `log-row ${m.state}`);
    row.dataset['logOf'] = m.id;
    row.dataset['commit'] = String(m.commit);
    const who = el('span', 'who');
    const behind = first > 1 && m.log.lastIndex < first ? ` · ${first - m.log.lastIndex - 1}+ behind` : '';
    const commit = m.state === 'running' || m.state === 'stopped' ? `commit ${m.commit}${behind}` : '';
    who.append(el('b', '', `${m.id} · ${ROLE_SHORT[m.role] ?? m.role}`), el('small', '', commit));
    row.append(who);
    const cells = el('span', 'cells');
    const byIndex = new Map<number, EntryView>(m.log.entries.map((e) => [e.index, e]));
    for (let i = first; i < first + this.columns; i++) {
      const e = byIndex.get(i);
      if (e) {
        const c = el('span', `cell entry ${e.kind}${i <= m.commit ? ' committed' : ''}${i === m.commit ? ' commit-edge' : ''}`);
        c.style.background = termColor(e.term);
        c.dataset['index'] = String(e.index);
        c.dataset['term'] = String(e.term);
        c.title = `entry ${e.index}, term ${e.term}: ${e.detail}${i <= m.commit ? ' (committed)' : ' (not committed yet)'}`;
        c.append(el('span', 'value', e.text), el('span', 'term', `t${e.term}`));
        cells.append(c);
      } else if (i <= m.log.snapshotIndex && i < m.log.firstIndex) {
        const c = el('span', `cell snap${i === m.commit ? ' commit-edge' : ''}`, '▤');
        c.title = `entry ${i} is in member ${m.id}'s snapshot (up to ${m.log.snapshotIndex}); the log was compacted`;
        cells.append(c);
      } else {
        cells.append(el('span', 'cell empty'));
      }
    }
    row.append(cells);
    return row;
  }
}
