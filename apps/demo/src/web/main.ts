import './shims.js';
import type { MessageTrace, TransportTrace } from '../shared/demo-member.js';
import { type MemberView, NODE_MEMBER, PageCluster } from './cluster.js';
import { LEGEND, PATH_NAMES, messageColor } from './colors.js';
import { Diagram } from './diagram.js';
import { LinkStats } from './link-stats.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

const params = new URLSearchParams(location.search);
/** `?ice=any` lifts the loopback-only ICE filter (for a person who knows what they are doing). */
const loopbackOnly = params.get('ice') !== 'any';

const stats = new LinkStats();
const diagram = new Diagram($<HTMLCanvasElement>('canvas'));
const eventsEl = $<HTMLOListElement>('events');
const opStatus = $('op-status');

function logEvent(text: string, kind = ''): void {
  const li = document.createElement('li');
  const t = new Date();
  li.textContent = `${t.toTimeString().slice(0, 8)}.${String(t.getMilliseconds()).padStart(3, '0')}  ${text}`;
  if (kind) li.className = kind;
  eventsEl.prepend(li);
  while (eventsEl.childElementCount > 150) eventsEl.lastElementChild?.remove();
}

const EVENT_TEXT: Record<string, string> = {
  'peer:active': 'peer active',
  'peer:inactive': 'peer inactive',
  'message:dropped': 'dropped',
  removed: 'told it was removed by',
  'stream:attached': 'stream attached',
  'stream:closed': 'stream closed',
  'snapshot:progress': 'snapshot progress to',
  'snapshot:done': 'snapshot sent to',
  'snapshot:failed': 'snapshot failed to',
};
const lastDropLog = new Map<string, number>();

const cluster = new PageCluster(
  {
    message(t: MessageTrace) {
      const now = performance.now();
      stats.message(t, now);
      diagram.message(t, now, t.from !== NODE_MEMBER && cluster.isCut(t.from, t.to));
    },
    nodePath(to: string, path: string, at: number) {
      stats.path(NODE_MEMBER, to, path, at);
    },
    event(e: TransportTrace) {
      stats.event(e);
      if (e.event === 'message:dropped') {
        // one line per link per second, the counts are on the link
        const k = `${e.member}>${e.peer}`;
        const now = performance.now();
        if ((lastDropLog.get(k) ?? 0) > now - 1000) return;
        lastDropLog.set(k, now);
      }
      const kind = e.event.startsWith('snapshot') ? 'snap' : e.event === 'peer:inactive' || e.event === 'message:dropped' ? 'bad' : '';
      logEvent(`member ${e.member}: ${EVENT_TEXT[e.event] ?? e.event} ${e.peer}${e.detail ? ` — ${e.detail}` : ''}`, kind);
    },
  },
  loopbackOnly,
);

async function op(what: string, fn: () => Promise<string | undefined>): Promise<void> {
  opStatus.textContent = `${what}…`;
  try {
    const r = await fn();
    opStatus.textContent = r ?? `${what}: done`;
    logEvent(`demo: ${r ?? `${what}: done`}`, 'op');
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    opStatus.textContent = `${what} failed: ${msg}`;
    logEvent(`demo: ${what} failed: ${msg}`, 'bad');
  }
}

// ---- member cards -----------------------------------------------------------

interface Card {
  root: HTMLElement;
  stats: HTMLElement;
  kill: HTMLButtonElement;
  partition: HTMLButtonElement;
  remove: HTMLButtonElement;
  snapshot: HTMLButtonElement;
}
const cards = new Map<string, Card>();

function button(text: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function card(m: MemberView): Card {
  let c = cards.get(m.id);
  if (c) return c;
  const root = document.createElement('div');
  root.className = 'card';
  root.dataset['nodeId'] = m.id;
  const title = document.createElement('h3');
  title.textContent = `Member ${m.id} · ${m.where === 'node' ? 'Node.js' : 'browser'}`;
  const st = document.createElement('div');
  st.className = 'stats';
  const row = document.createElement('div');
  row.className = 'row';
  const id = m.id;
  const kill = button('Kill', `Kill member ${id}`, () => {
    const running = kill.dataset['running'] === 'true';
    void op(`${running ? 'kill' : 'restart'} member ${id}`, async () => {
      if (running) await cluster.kill(id);
      else await cluster.restart(id);
      return `${running ? 'killed' : 'restarted'} member ${id}`;
    });
  });
  const partition = button('Partition', `Partition member ${id}`, () => {
    const on = !cluster.partitioned.has(id);
    void op(`${on ? 'partition' : 'heal'} member ${id}`, async () => {
      await cluster.setPartitioned(id, on);
      return `${on ? 'partitioned' : 'healed'} member ${id}`;
    });
  });
  const remove = button('Remove', `Remove member ${id}`, () => {
    void op(`remove member ${id}`, async () => {
      await cluster.removeMember(id);
      return `removed member ${id} from the cluster`;
    });
  });
  const snapshot = button('Snapshot', `Snapshot member ${id}`, () => {
    void op(`snapshot member ${id}`, async () => `member ${id}: snapshot at index ${await cluster.forceSnapshot(id)}, log compacted`);
  });
  row.append(kill, partition, remove, snapshot);
  root.append(title, st, row);
  $('members').append(root);
  c = { root, stats: st, kill, partition, remove, snapshot };
  cards.set(m.id, c);
  return c;
}

function updateCards(views: MemberView[]): void {
  for (const m of views) {
    const c = card(m);
    const d = c.root.dataset;
    d['role'] = m.state === 'running' ? m.role : m.removed ? 'removed' : 'stopped';
    d['term'] = String(m.term);
    d['commit'] = String(m.commit);
    d['applied'] = String(m.applied);
    d['lastIndex'] = String(m.lastIndex);
    d['state'] = m.state;
    d['partitioned'] = String(m.partitioned);
    c.root.className = `card ${d['role']}`;
    c.stats.textContent = `${d['role']} · term ${m.term} · commit ${m.commit} · applied ${m.applied} · log ${m.lastIndex}`;
    const running = m.state === 'running';
    c.kill.dataset['running'] = String(running);
    c.kill.textContent = running ? 'Kill' : 'Restart';
    c.kill.setAttribute('aria-label', `${running ? 'Kill' : 'Restart'} member ${m.id}`);
    c.kill.disabled = m.removed;
    const part = cluster.partitioned.has(m.id);
    c.partition.textContent = part ? 'Heal' : 'Partition';
    c.partition.setAttribute('aria-label', `${part ? 'Heal' : 'Partition'} member ${m.id}`);
    c.remove.disabled = m.removed || !running;
    c.snapshot.disabled = !running;
  }
}

// ---- links table ------------------------------------------------------------

const linkRows = new Map<string, { row: HTMLTableRowElement; cells: HTMLTableCellElement[]; btn: HTMLButtonElement }>();

function pathText(paths: string[]): string {
  return paths.length === 0 ? '—' : paths.map((p) => PATH_NAMES[p] ?? p).join(' + ');
}

function activeText(v: boolean | undefined): string {
  return v === undefined ? '—' : v ? 'active' : 'inactive';
}

function updateLinks(views: MemberView[], now: number): void {
  const table = $<HTMLTableElement>('links');
  if (!table.tHead) {
    const head = table.createTHead().insertRow();
    for (const h of ['link', 'path a→b', 'path b→a', 'peer a→b / b→a', 'msg/s', 'dropped', '']) {
      const th = document.createElement('th');
      th.textContent = h;
      head.append(th);
    }
  }
  const body = table.tBodies[0] ?? table.createTBody();
  for (let i = 0; i < views.length; i++) {
    for (let j = i + 1; j < views.length; j++) {
      const a = (views[i] as MemberView).id;
      const b = (views[j] as MemberView).id;
      const key = `${a}-${b}`;
      let r = linkRows.get(key);
      if (!r) {
        const row = body.insertRow();
        row.dataset['link'] = key;
        const cells = Array.from({ length: 6 }, () => row.insertCell());
        const btn = button('Cut', `Cut link ${a}–${b}`, () => {
          const cut = !cluster.cutLinks.has(key);
          void op(`${cut ? 'cut' : 'heal'} link ${a}–${b}`, async () => {
            await cluster.setLinkCut(a, b, cut);
            return `${cut ? 'cut' : 'healed'} link ${a}–${b}`;
          });
        });
        row.insertCell().append(btn);
        r = { row, cells, btn };
        linkRows.set(key, r);
      }
      const ab = stats.get(a, b, now);
      const ba = stats.get(b, a, now);
      const cut = cluster.isCut(a, b);
      const [c0, c1, c2, c3, c4, c5] = r.cells as [
        HTMLTableCellElement,
        HTMLTableCellElement,
        HTMLTableCellElement,
        HTMLTableCellElement,
        HTMLTableCellElement,
        HTMLTableCellElement,
      ];
      c0.textContent = `${a} ↔ ${b}${cut ? ' ✂' : ''}`;
      c1.textContent = pathText(ab.paths);
      c2.textContent = pathText(ba.paths);
      c3.textContent = `${activeText(cluster.linkActive(a, b))} / ${activeText(cluster.linkActive(b, a))}${cut ? ' (paused: cut)' : ''}`;
      c4.textContent = String(ab.rate + ba.rate);
      c5.textContent = String(ab.dropped + ba.dropped);
      r.row.className = cut ? 'cut' : '';
      r.row.dataset['cut'] = String(cut);
      const userCut = cluster.cutLinks.has(key);
      r.btn.textContent = userCut ? 'Heal' : 'Cut';
      r.btn.setAttribute('aria-label', `${userCut ? 'Heal' : 'Cut'} link ${a}–${b}`);
    }
  }
}

// ---- summary, legend, loop ----------------------------------------------------

function updateSummary(views: MemberView[]): void {
  const leader = views.find((v) => v.state === 'running' && v.role === 'leader');
  const running = views.filter((v) => v.state === 'running').length;
  const s = $('summary');
  s.textContent = leader
    ? `Leader: member ${leader.id} (${leader.where === 'node' ? 'Node.js' : 'browser'}) · term ${leader.term} · commit ${leader.commit} · ${running}/${views.length} members running · cluster ${cluster.clusterId.toString(16)} · speed ${cluster.speed.factor === 1 ? 'real time' : `${cluster.speed.factor}× slower`}`
    : `No leader yet — election in progress · ${running}/${views.length} members running`;
  s.dataset['leader'] = leader?.id ?? '';
}

function legend(): void {
  const el = $('legend');
  for (const [type, label] of LEGEND) {
    const span = document.createElement('span');
    const dot = document.createElement('i');
    dot.style.background = messageColor(type);
    span.append(dot, ` ${label}`);
    el.append(span);
  }
  const more = document.createElement('span');
  more.textContent = '· ×N = N messages batched · crossed out = dropped on a cut link · dashed line = peer not active · red = cut';
  el.append(more);
}

let lastPanels = 0;
function frame(): void {
  const now = performance.now();
  const views = cluster.views();
  diagram.draw(
    views,
    (a, b) => ({ cut: cluster.isCut(a, b), activeAB: cluster.linkActive(a, b), activeBA: cluster.linkActive(b, a) }),
    stats,
    now,
  );
  if (now - lastPanels > 250) {
    lastPanels = now;
    updateCards(views);
    updateLinks(views, now);
    updateSummary(views);
  }
  requestAnimationFrame(frame);
}

async function hasMediaPermission(): Promise<boolean> {
  try {
    const st = await navigator.permissions.query({ name: 'microphone' as PermissionName });
    return st.state === 'granted';
  } catch {
    return false;
  }
}

async function start(): Promise<void> {
  legend();
  $<HTMLSelectElement>('speed').addEventListener('change', (e) => {
    const f = Number((e.target as HTMLSelectElement).value);
    void op('set speed', async () => {
      await cluster.setSpeed(f);
      return f === 1 ? 'speed: real time' : `speed: ${f}× slower (Raft ticks and message delivery)`;
    });
  });
  $<HTMLFormElement>('propose-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = $<HTMLInputElement>('propose-value').value;
    void op('propose', async () => {
      await cluster.propose(`key-${Date.now().toString(36)}`, v);
      return `committed “${v}”`;
    });
  });
  $('propose-100').addEventListener('click', () => {
    void op('propose 100', async () => {
      const t0 = performance.now();
      await cluster.proposeMany(100);
      return `100 proposals committed in ${Math.round(performance.now() - t0)} ms`;
    });
  });
  $('add-member').addEventListener('click', () => {
    void op('add member', async () => `added member ${await cluster.addMember()}`);
  });
  if (!(await hasMediaPermission())) {
    // Chromium gathers loopback candidates only for a page with media permission.
    const box = $('permission');
    box.hidden = false;
    await new Promise<void>((resolve) => {
      $('grant').addEventListener('click', async () => {
        try {
          const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
          for (const t of stream.getTracks()) t.stop();
          box.hidden = true;
          resolve();
        } catch (err) {
          box.querySelector('p')?.append(` — permission refused: ${err instanceof Error ? err.message : String(err)}`);
        }
      });
    });
  }
  requestAnimationFrame(frame);
  logEvent(`demo: starting members 2, 3, 4 in this page; member 1 runs in Node.js${loopbackOnly ? ' (loopback-only ICE)' : ''}`, 'op');
  await cluster.start();
  logEvent('demo: page members started', 'op');
}

start().catch((err: unknown) => {
  $('summary').textContent = `failed to start: ${err instanceof Error ? err.message : String(err)}`;
});
addEventListener('pagehide', () => {
  cluster.leave();
  void cluster.close();
});
