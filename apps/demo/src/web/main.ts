import './shims.js';
import type { HeldDelivery } from '../shared/deliveries.js';
import { messageSentence } from '../shared/message-info.js';
import { NODE_MEMBER, type SessionInfo } from '../shared/session-api.js';
import { ApiFailure, SessionApi, createSession } from './api.js';
import { type MemberView, PageCluster, type SavedMembers } from './cluster.js';
import { MESSAGE_STYLES } from './colors.js';
import { LinksTable, MemberCards, button } from './controls.js';
import { Diagram } from './diagram.js';
import { EventLog } from './event-log.js';
import { LinkStats } from './link-stats.js';
import { LogStrips } from './log-strip.js';
import { type TrackedProposal, narrate } from './narration.js';
import { IndexedDbStorage } from '@raftwire/raft/browser';
import { type MemberStorageProvider, indexedDbStorageProvider, memoryStorageProvider } from './page-storage.js';
import { type TabLock, lockCluster } from './tab-lock.js';
import { canGatherLoopback, isChromium, loopbackAdvice, mediaPermission, requestMediaPermission } from './webrtc-probe.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

const params = new URLSearchParams(location.search);
/** `?ice=any` lifts the loopback-only ICE filter (for a person who knows what they are doing). */
const loopbackOnly = params.get('ice') !== 'any';
/** The page opens slowed so the first election can be followed; `?speed=1` opens in real time. */
const START_FACTOR = Number(params.get('speed') ?? 5);
const SESSION_KEY = 'raftwire-demo-session';

/**
 * Page members keep their logs in IndexedDB (a reload resumes the cluster) where the browser has
 * it and Web Locks (one tab per cluster); `?storage=memory` keeps them in memory (a reload starts over).
 */
const durable = params.get('storage') !== 'memory' && typeof indexedDB !== 'undefined' && typeof navigator.locks !== 'undefined';
const idb = durable ? indexedDbStorageProvider() : undefined;
const provider: MemberStorageProvider = idb ?? memoryStorageProvider;
const stats = new LinkStats();
const diagram = new Diagram($<HTMLCanvasElement>('canvas'));
const logs = new LogStrips($('logs'));
const events = new EventLog($<HTMLOListElement>('events'), $<HTMLInputElement>('show-transport'));
const opStatus = $('op-status');
const timeEl = $('time');

let started = false;
/** What the narration says while the cluster is not running (a permission to ask for, another tab, …). */
let waiting: string | undefined;
let proposal: TrackedProposal | undefined;
let electedAt = 0;
let lastLeader = '';
let lock: TabLock | undefined;

const cluster = new PageCluster(
  {
    raftEvent: (e) => events.raft(e),
    transportEvent(e) {
      stats.event(e);
      events.transport(e);
    },
    sent: (t) => stats.message(t, performance.now()),
    nodePath: (to, path, at) => stats.path(NODE_MEMBER, to, path, at),
    held: (d) => diagram.held(d),
    released: (d) => diagram.released(d, cluster.time.now()),
    dropped(d: HeldDelivery, reason: string) {
      diagram.dropped(d, cluster.time.now());
      stats.event({ at: Date.now(), member: d.info.from, event: 'message:dropped', peer: d.info.to, detail: reason });
    },
    lost: (reason) => {
      started = false;
      waiting = 'The cluster is gone (see above).';
      sessionStorage.removeItem(SESSION_KEY);
      void provider.discard(cluster.clusterId);
      showNotice(reason, [['Start a new cluster', () => location.reload()]]);
      setControls(false);
    },
  },
  provider,
  loopbackOnly,
);

/** Runs a user's operation and shows what really happened: its result, or why it failed. */
async function op(what: string, fn: () => Promise<string>): Promise<void> {
  opStatus.textContent = `${what}…`;
  opStatus.className = 'busy';
  try {
    const r = await fn();
    opStatus.textContent = r;
    opStatus.className = 'ok';
    events.op(`demo: ${r}`, true);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    opStatus.textContent = `${what} failed: ${msg}`;
    opStatus.className = 'bad';
    events.op(`demo: ${what} failed: ${msg}`, false);
  }
}

const cards = new MemberCards($('members'), cluster, op);
const links = new LinksTable($<HTMLTableElement>('links'), cluster, stats, op);

// ---- notices (permission, another tab, cluster lost) ------------------------------------------

function showNotice(text: string, actions: [string, () => void][] = []): void {
  $('notice').hidden = false;
  $('notice-text').textContent = text;
  $('notice-actions').replaceChildren(...actions.map(([label, fn]) => button(label, label, fn)));
}

function hideNotice(): void {
  $('notice').hidden = true;
}

/** Resolves with the label of the action the person picks. */
function ask(text: string, choices: string[]): Promise<string> {
  return new Promise((resolve) =>
    showNotice(
      text,
      choices.map((c) => [c, () => resolve(c)] as [string, () => void]),
    ),
  );
}

// ---- time controls ----------------------------------------------------------------------------

function setControls(on: boolean): void {
  for (const id of ['pause', 'speed', 'propose-100', 'add-member']) $<HTMLButtonElement>(id).disabled = !on;
  ($('propose-form').querySelector('button[type=submit]') as HTMLButtonElement).disabled = !on;
  updateTimeControls();
}

function updateTimeControls(): void {
  const paused = cluster.time.paused;
  const pause = $<HTMLButtonElement>('pause');
  pause.textContent = paused ? 'Resume' : 'Pause';
  pause.classList.toggle('paused', paused);
  const next = cluster.deliveries.list()[0];
  $<HTMLButtonElement>('step').disabled = !started || !paused || next === undefined;
  $<HTMLButtonElement>('tick').disabled = !started || !paused;
  const sel = $<HTMLSelectElement>('speed');
  if (sel.value !== String(cluster.time.factor)) sel.value = String(cluster.time.factor);
  timeEl.dataset['paused'] = String(paused);
  timeEl.dataset['factor'] = String(cluster.time.factor);
  timeEl.dataset['delivered'] = String(cluster.deliveries.delivered);
  timeEl.dataset['held'] = String(cluster.deliveries.size);
}

function wireControls(): void {
  $('pause').addEventListener('click', () => {
    const paused = cluster.time.paused;
    void op(paused ? 'resume' : 'pause', async () => {
      if (paused) {
        await cluster.resume();
        return 'resumed: timers run and messages move again';
      }
      await cluster.pause();
      const n = cluster.deliveries.size;
      return `paused: no member ticks and no message is delivered (${n} on ${n === 1 ? 'its' : 'their'} way). Step delivers the next one.`;
    });
  });
  $('step').addEventListener('click', () => {
    const d = cluster.step();
    const text = d ? `step: delivered ${messageSentence(d.info)}` : 'step: no message is on its way; Tick lets the timers run';
    opStatus.textContent = text;
    opStatus.className = d ? 'ok' : 'bad';
    events.op(`demo: ${text}`, d !== undefined);
    updateTimeControls();
  });
  $('tick').addEventListener('click', () => {
    void op('tick', async () => {
      await cluster.tick();
      return 'tick: every running member’s clock advanced by one tick (100 ms of Raft time); messages still wait for Step or Resume';
    });
  });
  $<HTMLSelectElement>('speed').addEventListener('change', (e) => {
    const f = Number((e.target as HTMLSelectElement).value);
    void op('set speed', async () => {
      await cluster.setSpeed(f);
      return f === 1 ? 'speed: real time' : `speed: ${f}× slower (Raft timers and message flights)`;
    });
  });
  $<HTMLFormElement>('propose-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = $<HTMLInputElement>('propose-value').value;
    const key = `key-${Date.now().toString(36)}`;
    void op(`propose “${v}”`, async () => {
      const via = cluster.proposer()?.hex ?? '';
      const tracked: TrackedProposal = { value: v, via, progress: cluster.progress(key), committedAt: undefined };
      proposal = tracked;
      let index = 0;
      // The narration follows it until a while after it committed (or the next proposal).
      const follow = setInterval(() => {
        tracked.progress = cluster.progress(key, index);
        if (proposal !== tracked || (tracked.committedAt !== undefined && performance.now() - tracked.committedAt > 8000))
          clearInterval(follow);
      }, 100);
      try {
        index = (await cluster.propose(key, v)).index;
      } catch (err) {
        clearInterval(follow);
        const p = cluster.progress(key);
        const n = cluster.allIds().length;
        const where =
          p.index > 0
            ? `it is entry ${p.index} on ${p.storedOn.length} of ${n} members, ${Math.floor(n / 2) + 1} are needed`
            : 'no leader took it';
        throw new Error(
          `not committed (${err instanceof Error ? err.message : String(err)}): ${where}. It may still commit once a majority is reachable.`,
        );
      }
      tracked.progress = cluster.progress(key, index);
      tracked.committedAt = performance.now();
      return `committed “${v}” at index ${index || tracked.progress.index}`;
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
    void op('add member', async () => `added member ${await cluster.addMember()}: it catches up from the leader`);
  });
  const canvas = $<HTMLCanvasElement>('canvas');
  const point = (e: MouseEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  canvas.addEventListener('mousemove', (e) => {
    diagram.hover = started ? diagram.linkAt(...point(e)) : undefined;
    canvas.style.cursor = diagram.hover ? 'pointer' : '';
  });
  canvas.addEventListener('mouseleave', () => {
    diagram.hover = undefined;
  });
  canvas.addEventListener('click', (e) => {
    const key = started ? diagram.linkAt(...point(e)) : undefined;
    if (!key) return;
    const [a, b] = key.split('-') as [string, string];
    links.toggle(a, b);
  });
}

function legend(): void {
  const el = $('legend');
  for (const [type, st] of Object.entries(MESSAGE_STYLES)) {
    const span = document.createElement('span');
    span.dataset['type'] = type;
    span.dataset['color'] = st.color;
    span.dataset['shape'] = st.shape;
    const dot = document.createElement('i');
    dot.className = st.shape;
    dot.style.setProperty('--c', st.color);
    span.append(dot, ` ${st.label}`);
    span.title = type;
    el.append(span);
  }
  const more = document.createElement('span');
  more.className = 'note';
  more.textContent =
    'filled = request, ring = answer · ×N = N messages · ring around a member = its election timer · log entries coloured by term, dashed = not committed';
  el.append(more);
}

// ---- frame loop ---------------------------------------------------------------------------

function summary(views: MemberView[]): void {
  const live = views.filter((v) => v.state !== 'removed');
  const running = live.filter((v) => v.state === 'running');
  const leader = running.filter((v) => v.role === 'leader').sort((a, b) => b.term - a.term)[0];
  const s = $('summary');
  const speed = cluster.time.factor === 1 ? 'real time' : `${cluster.time.factor}× slower`;
  const text = !started
    ? s.textContent
    : `${leader ? `Leader: member ${leader.id} · term ${leader.term} · commit ${leader.commit}` : 'No leader'} · ${running.length} of ${live.length} members up · ${speed}`;
  if (s.textContent !== text) s.textContent = text;
  s.title = started ? `cluster ${cluster.clusterId}, logs ${provider.where}` : '';
  s.dataset['leader'] = leader?.id ?? '';
  if (leader && `${leader.id}:${leader.term}` !== lastLeader) {
    lastLeader = `${leader.id}:${leader.term}`;
    electedAt = performance.now();
  }
}

/** The canvas, every animation frame. */
function frame(): void {
  const live = cluster.views(false).filter((v) => v.state !== 'removed');
  const next = cluster.deliveries.list()[0];
  diagram.draw({
    members: live,
    links: (a, b) => ({ cut: cluster.isCut(a, b), activeAB: cluster.linkActive(a, b), activeBA: cluster.linkActive(b, a) }),
    now: cluster.time.now(),
    paused: cluster.time.paused,
    slowed: cluster.time.factor > 2,
    next: cluster.time.paused ? next : undefined,
    pausedText: next ? `Step delivers ${messageSentence(next.info)}` : 'Nothing on its way: Tick advances the timers',
  });
  requestAnimationFrame(frame);
}

/**
 * Cards, logs, links, summary and narration, four times a second on a timer
 * (not per animation frame, so a tab in the background keeps them current).
 */
function panels(): void {
  const now = performance.now();
  const views = cluster.views(true);
  cards.update(views);
  links.update(views, now);
  logs.update(views);
  summary(views);
  updateTimeControls();
  if (started && cluster.session) save(cluster.session, cluster.saved());
  const add = $<HTMLButtonElement>('add-member');
  const blocked = started ? cluster.addBlocked() : 'starting';
  add.disabled = blocked !== '';
  add.title = blocked;
  const text = narrate({
    started,
    waiting,
    members: views.filter((v) => v.state !== 'removed'),
    paused: cluster.time.paused,
    proposal,
    electedAt,
    now,
  });
  const n = $('narration');
  if (n.textContent !== text) n.textContent = text;
}

// ---- start --------------------------------------------------------------------------------

/** Makes sure this page can use WebRTC on loopback, asking for media permission only where the browser needs it. */
async function loopbackReady(): Promise<boolean> {
  if (await canGatherLoopback()) return true;
  const url = `${location.origin}/`;
  const perm = await mediaPermission();
  if (perm === 'granted') {
    showNotice(loopbackAdvice(isChromium ? 'no-flag' : 'other-browser', url));
    return false;
  }
  if (!isChromium) {
    showNotice(loopbackAdvice('other-browser', url));
    return false;
  }
  waiting = 'The cluster has not started: Chromium needs media permission for WebRTC on 127.0.0.1 (see above).';
  await ask(
    'Chromium shows this page 127.0.0.1 WebRTC addresses (all the demo uses) only when it has media permission. The microphone is never used: the track is stopped at once.',
    ['Allow microphone access and start'],
  );
  try {
    await requestMediaPermission();
  } catch (err) {
    const name = err instanceof DOMException ? err.name : '';
    const detail = err instanceof Error ? err.message : String(err);
    showNotice(loopbackAdvice(name === 'NotFoundError' ? 'no-device' : 'refused', url, detail), [['Try again', () => location.reload()]]);
    return false;
  }
  if (await canGatherLoopback()) {
    hideNotice();
    waiting = undefined;
    return true;
  }
  showNotice(loopbackAdvice('no-flag', url));
  return false;
}

interface Saved extends SavedMembers {
  clusterId: string;
  token: string;
}

const lockName = (cluster: string): string => `raftwire-demo-${cluster}`;

function save(session: SessionInfo, members: SavedMembers): void {
  if (!provider.durable) return;
  const v = JSON.stringify({ clusterId: session.clusterId, token: session.token, ...members } satisfies Saved);
  if (sessionStorage.getItem(SESSION_KEY) !== v) sessionStorage.setItem(SESSION_KEY, v);
}

/** The cluster this tab runs: the one it had before a reload (durable logs only), or a new one. */
async function openSession(): Promise<{ session: SessionInfo; resumed: SavedMembers | undefined }> {
  const raw = provider.durable ? sessionStorage.getItem(SESSION_KEY) : null;
  const saved = raw ? (JSON.parse(raw) as Saved) : undefined;
  if (saved) {
    lock = await lockCluster(lockName(saved.clusterId));
    if (!lock) {
      waiting = `Waiting: cluster ${saved.clusterId} runs in another tab (see above).`;
      const choice = await ask(
        `Cluster ${saved.clusterId} is running in another tab of this browser (this tab is a copy of it). Its members and their logs can run in one tab only.`,
        ['Take over here', 'Start a new cluster'],
      );
      hideNotice();
      waiting = undefined;
      if (choice === 'Take over here') lock = await lockCluster(lockName(saved.clusterId), true);
    }
    if (lock) {
      try {
        const session = await new SessionApi(saved.clusterId, saved.token).post<SessionInfo>('resume');
        return { session, resumed: { members: saved.members, removed: saved.removed } };
      } catch (err) {
        if (!(err instanceof ApiFailure) || err.status === 0) throw err;
        // The server no longer has it: its logs are of no use.
        lock.release();
        lock = undefined;
        await provider.discard(saved.clusterId);
        events.op(`demo: cluster ${saved.clusterId} is gone from the server (${err.message}); starting a new one`, false);
      }
    }
  }
  const session = await createSession(START_FACTOR);
  if (provider.durable) {
    lock = await lockCluster(lockName(session.clusterId));
    // Logs of clusters no tab runs any more are of no use: delete them, but only after a while,
    // so a tab that is reloading right now has taken its cluster's lock back.
    setTimeout(() => {
      void navigator.locks.query().then((locks) => {
        const held = new Set((locks.held ?? []).map((l) => (l.name ?? '').replace(/^raftwire-demo-/, '')));
        held.add(session.clusterId);
        return idb?.sweep(held);
      });
    }, 10_000);
  }
  return { session, resumed: undefined };
}

async function start(): Promise<void> {
  legend();
  wireControls();
  requestAnimationFrame(frame);
  setInterval(panels, 250);
  if (!(await loopbackReady())) {
    $('summary').textContent = 'Not started: see the message above';
    waiting = 'The cluster has not started: this browser cannot use WebRTC on 127.0.0.1 yet (see above).';
    return;
  }
  const { session, resumed } = await openSession();
  lock?.lost.then(() => {
    void cluster.close();
    started = false;
    waiting = 'This tab no longer runs the cluster: another tab took it over (see above).';
    setControls(false);
    showNotice('Another tab of this browser took this cluster over: its members run there now.', [
      [
        'Start a new cluster here',
        () => {
          sessionStorage.removeItem(SESSION_KEY);
          location.reload();
        },
      ],
    ]);
  });
  events.op(
    `demo: cluster ${session.clusterId}${resumed ? ' resumed after a reload' : ''}: members ${(resumed?.members ?? ['2', '3', '4']).join(', ')} in this page (logs ${provider.where}), member 1 in Node.js${loopbackOnly ? '; loopback-only ICE' : ''}`,
    true,
  );
  // A new cluster's Node member waits with its clock paused: every member's timer starts together.
  if (!resumed) session.time = { ...session.time, paused: false };
  const recovered = await cluster.start(session, resumed);
  if (resumed) {
    for (const r of recovered) {
      events.op(
        `demo: member ${r.member} recovered ${r.lastIndex} log entries ${provider.where} (term ${r.term}, commit ${r.commit})`,
        true,
      );
    }
  }
  await cluster.setSpeed(session.time.factor);
  started = true;
  setControls(true);
  events.op('demo: members started', true);
}

start().catch((err: unknown) => {
  const msg = err instanceof Error ? err.message : String(err);
  $('summary').textContent = 'Not started';
  waiting = 'The cluster could not start (see above).';
  showNotice(`The cluster could not start: ${msg}`, [['Try again', () => location.reload()]]);
});
// For a person poking around in the devtools console (and the browser tests of the storage).
Object.assign(globalThis, { raftwireDemo: { cluster, IndexedDbStorage } });

addEventListener('pagehide', () => {
  cluster.leave();
  void cluster.close();
});
