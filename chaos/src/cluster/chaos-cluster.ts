/**
 * A cluster of `raftwire member` processes on 127.0.0.1 whose peer traffic
 * all goes through one {@link FaultProxy}, and the process-level faults the
 * schedule needs: SIGKILL, SIGSTOP/SIGCONT, restarts from the data directory,
 * torn WAL tails, and membership changes through the client API.
 *
 * Each member lives in a *lane* (`m1` … `m5`): the lane keeps its place in
 * the report and its faults while the member in it changes (a member removed
 * and replaced by a fresh one with a new ID, new ports and an empty data
 * directory, as etcd requires: a removed ID never comes back).
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { FaultProxy } from '../proxy/fault-proxy.js';
import { ProcSocketOwners } from '../proxy/socket-owners.js';
import { type ApiAnswer, apiRequest, deadline } from './api-client.js';
import { type MemberExit, MemberProcess } from './member-process.js';
import { type TearMode, type TearResult, tearWalTail } from './wal-tear.js';

export type LaneState = 'running' | 'stopped' | 'killed' | 'removed';

export interface Lane {
  name: string;
  /** Current member ID (hex). */
  id: string;
  listenPort: number;
  apiPort: number;
  /** The proxy's port for this member: the URL every other member dials. */
  proxyPort: number;
  dataDir: string;
  state: LaneState;
  proc: MemberProcess | null;
  /** IDs this lane had, oldest first. */
  ids: string[];
}

/** A member's `/v1/status` answer. */
export interface MemberStatus {
  id: string;
  leader: string;
  term: number;
  commit: number;
  applied: number;
  state: string;
  peers: { id: string; url: string; active: boolean }[];
}

/** An exit nobody asked for: a crash, or a member that decided it was removed. */
export interface UnexpectedExit {
  lane: string;
  id: string;
  /** ms since the start of the run. */
  at: number;
  exit: MemberExit;
  /** The member's ERROR lines (why it stopped, usually). */
  errors: string[];
  /** The member's last log lines. */
  tail: string[];
}

export interface ClusterOptions {
  size: number;
  /** Data directories and member logs go here. */
  dir: string;
  /** Path of the CLI's `main.js`. */
  cliMain: string;
  /** Flags for every member (timing, snapshot thresholds, log level). */
  memberArgs: readonly string[];
  random: () => number;
  log: (line: string) => void;
  /** Headers for every API request (a bearer token, once the API takes one). */
  apiHeaders?: Record<string, string>;
  /** ms since the start of the run (for the record of unexpected exits). */
  now: () => number;
  /**
   * Start a member that exited by itself again after this many ms, as a
   * supervisor would (null: leave it down until the final heal). A member
   * that exits because it was removed (code 3) is never restarted.
   */
  restartCrashedAfterMs?: number | null;
}

/** The kernel's range for the local ports of outgoing connections (Linux; the usual default elsewhere). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi && lo <= hi) return [lo, hi];
  } catch {
    // not Linux
  }
  return [32768, 60999];
}

function tryListen(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => {
      const a = s.address();
      const bound = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(bound));
    });
  });
}

const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1 for a member to listen on, below the
 * ephemeral range: a port the kernel may give to an outgoing connection (and
 * a run makes thousands) could be taken by one between now and the moment the
 * member binds it. Never the same port twice in a process.
 */
export async function freePort(): Promise<number> {
  const [lo] = ephemeralRange();
  const min = 10_000;
  if (lo - min >= 2000) {
    for (let i = 0; i < 100; i++) {
      const port = min + Math.floor(Math.random() * (lo - min));
      if (handedOut.has(port)) continue;
      handedOut.add(port); // claimed before the await, so concurrent callers never get the same one
      if ((await tryListen(port)) === port) return port;
      handedOut.delete(port);
    }
  }
  for (;;) {
    const port = await tryListen(0);
    if (port !== null && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

const url = (port: number): string => `http://127.0.0.1:${port}`;

export interface ConfirmedLeader {
  lane: Lane;
  id: string;
  term: number;
}

/**
 * The leader that a majority of `members` name, provided it reports
 * StateLeader itself (`statuses[i]` is `members[i]`'s, null when it did not answer).
 */
export function confirmedLeader(members: readonly Lane[], statuses: readonly (MemberStatus | null)[]): ConfirmedLeader | null {
  const votes = new Map<string, number>();
  for (const s of statuses) if (s && s.leader !== '0') votes.set(s.leader, (votes.get(s.leader) ?? 0) + 1);
  for (const [id, n] of votes) {
    if (n < Math.floor(members.length / 2) + 1) continue;
    const i = members.findIndex((l) => l.id === id);
    const s = statuses[i];
    if (i >= 0 && s && s.state === 'StateLeader') return { lane: members[i] as Lane, id, term: s.term };
  }
  return null;
}

export class ChaosCluster {
  readonly lanes: Lane[] = [];
  readonly proxy: FaultProxy;
  readonly unexpectedExits: UnexpectedExit[] = [];
  private readonly owners = new ProcSocketOwners();
  private nextId: number;
  private closing = false;

  private constructor(private readonly o: ClusterOptions) {
    this.proxy = new FaultProxy({ resolveDialer: this.owners.resolve, random: o.random, log: o.log });
    this.nextId = o.size + 1;
  }

  /** Starts `size` members (IDs 1…size) and their proxy ports; does not wait for a leader. */
  static async start(o: ClusterOptions): Promise<ChaosCluster> {
    const c = new ChaosCluster(o);
    await mkdir(join(o.dir, 'logs'), { recursive: true });
    for (let i = 1; i <= o.size; i++) {
      const [listenPort, apiPort] = await Promise.all([freePort(), freePort()]);
      const name = `m${i}`;
      const id = i.toString(16);
      const proxyPort = await c.proxy.addMember(name, listenPort);
      c.lanes.push({
        name,
        id,
        listenPort,
        apiPort,
        proxyPort,
        dataDir: join(o.dir, 'data', `${name}-${id}`),
        state: 'killed',
        proc: null,
        ids: [id],
      });
    }
    for (const lane of c.lanes) c.spawn(lane, false);
    return c;
  }

  lane(name: string): Lane {
    const l = this.lanes.find((x) => x.name === name);
    if (!l) throw new Error(`no lane ${name}`);
    return l;
  }

  apiUrl(lane: Lane): string {
    return url(lane.apiPort);
  }

  /** Lanes whose member is a voter in the intended configuration (not removed). */
  members(): Lane[] {
    return this.lanes.filter((l) => l.state !== 'removed');
  }

  async api(lane: Lane, path: string, init: { method?: string; body?: string; timeoutMs?: number } = {}): Promise<ApiAnswer> {
    const limit = deadline(init.timeoutMs ?? 2000);
    try {
      return await apiRequest(`${this.apiUrl(lane)}${path}`, {
        ...(init.method ? { method: init.method } : {}),
        ...(init.body !== undefined ? { body: init.body } : {}),
        signal: limit.signal,
        ...(this.o.apiHeaders ? { headers: this.o.apiHeaders } : {}),
      });
    } finally {
      limit.dispose();
    }
  }

  async status(lane: Lane, timeoutMs = 1000): Promise<MemberStatus | null> {
    if (lane.state !== 'running') return null;
    const a = await this.api(lane, '/v1/status', { timeoutMs });
    return a.kind === 'response' && a.status === 200 ? (a.body as unknown as MemberStatus) : null;
  }

  /** The leader a majority of the members agree on (the leader itself reporting StateLeader), or null. */
  async leader(timeoutMs = 1000): Promise<ConfirmedLeader | null> {
    const members = this.members();
    return confirmedLeader(members, await Promise.all(members.map((l) => this.status(l, timeoutMs))));
  }

  async waitForLeader(timeoutMs: number, signal?: AbortSignal): Promise<ConfirmedLeader | null> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline && !signal?.aborted) {
      const l = await this.leader();
      if (l) return l;
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  }

  private spawn(lane: Lane, joining: boolean): void {
    const peers = this.lanes.filter((l) => l !== lane && l.state !== 'removed').map((l) => `${l.id}=${url(l.proxyPort)}`);
    const proc = new MemberProcess({
      cliMain: this.o.cliMain,
      id: lane.id,
      listenUrl: url(lane.listenPort),
      apiUrl: url(lane.apiPort),
      peers,
      dataDir: lane.dataDir,
      join: joining,
      extraArgs: this.o.memberArgs,
      logFile: join(this.o.dir, 'logs', `${lane.name}-${lane.id}.log`),
    });
    this.owners.register(proc.pid, lane.name);
    lane.proc = proc;
    lane.state = 'running';
    void proc.exited.then((exit) => {
      this.owners.unregister(proc.pid);
      if (lane.proc !== proc) return;
      const expected = lane.state !== 'running';
      lane.state = lane.state === 'removed' ? 'removed' : 'killed';
      if (!expected && !this.closing) {
        const errors = proc.tail.filter((l) => / (ERROR|FATAL) /.test(l));
        this.unexpectedExits.push({ lane: lane.name, id: lane.id, at: this.o.now(), exit, errors, tail: [...proc.tail] });
        const why = errors[errors.length - 1]?.replace(/^\S+ ERROR\s+/, '') ?? 'no ERROR line';
        this.o.log(`member ${lane.id} (${lane.name}) exited by itself: ${exit.signal ?? `code ${exit.code}`} — ${why}`);
        // A member that keeps crashing is restarted less and less often (1 s, 2 s, 4 s, … at most 30 s).
        const base = this.o.restartCrashedAfterMs === undefined ? 1000 : this.o.restartCrashedAfterMs;
        const recent = this.unexpectedExits.filter((e) => e.lane === lane.name && this.o.now() - e.at < 60_000).length;
        const after = base === null ? null : Math.min(30_000, base * 2 ** Math.max(0, recent - 1));
        if (after !== null && exit.code !== 3) {
          setTimeout(() => {
            // Only if nobody touched the lane meanwhile (the nemesis may have its own plans for it).
            if (this.closing || lane.proc !== proc || lane.state !== 'killed') return;
            this.o.log(`restarting member ${lane.id} (${lane.name}) after it exited by itself`);
            this.spawn(lane, false);
          }, after);
        }
      }
    });
  }

  /** SIGKILL (a stopped member is continued first so the kill lands). */
  async kill(lane: Lane): Promise<void> {
    const p = lane.proc;
    if (!p?.running) return;
    lane.state = 'killed';
    await p.kill();
  }

  /** SIGTERM and wait (a clean stop). */
  async terminate(lane: Lane): Promise<void> {
    const p = lane.proc;
    if (!p?.running) return;
    lane.state = 'killed';
    p.signal('SIGCONT');
    p.signal('SIGTERM');
    const t = setTimeout(() => p.signal('SIGKILL'), 5000);
    await p.exited;
    clearTimeout(t);
  }

  stop(lane: Lane): void {
    if (lane.state !== 'running' || !lane.proc) return;
    lane.proc.signal('SIGSTOP');
    lane.state = 'stopped';
  }

  cont(lane: Lane): void {
    if (lane.state !== 'stopped' || !lane.proc) return;
    lane.proc.signal('SIGCONT');
    lane.state = 'running';
  }

  /** Starts the lane's member again from its data directory. */
  restart(lane: Lane): void {
    if (lane.state !== 'killed') return;
    this.spawn(lane, false);
  }

  /** Tears the WAL tail of a killed member. */
  tear(lane: Lane, mode: TearMode): Promise<TearResult> {
    if (lane.state !== 'killed') throw new Error(`tear: ${lane.name} is ${lane.state}`);
    return tearWalTail(lane.dataDir, mode, this.o.random);
  }

  /**
   * Removes the lane's member through the API (asking `via`); it should
   * exit by itself, and is killed if it has not within 5 s. Resolves with
   * what happened, for the report.
   */
  async removeMember(lane: Lane, via: Lane): Promise<string> {
    const id = lane.id;
    const proc = lane.proc;
    lane.state = 'removed';
    const a = await this.api(via, `/v1/members/${id}`, { method: 'DELETE', timeoutMs: 12_000 });
    let outcome = a.kind === 'response' ? `DELETE answered ${a.status}` : `DELETE failed (${a.code})`;
    if (a.kind === 'response' && a.status === 409) {
      // Refused (another change in flight): the member stays, and so does its process.
      lane.state = proc?.running ? 'running' : 'killed';
      return `${outcome} (${JSON.stringify(a.body)}), the member stays`;
    }
    if (!(a.kind === 'response' && a.status === 200)) {
      // Outcome unknown: look at the membership until it is decided one way or the other.
      const gone = await this.waitMembership(via, (peers) => !peers.includes(id), 10_000);
      outcome += gone ? ', then the member was gone' : ', and the member is still listed';
      if (!gone) {
        lane.state = proc?.running ? 'running' : 'killed';
        return outcome;
      }
    }
    if (proc?.running) {
      const exit = await Promise.race([proc.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
      if (exit) outcome += `; it stopped on its own (${exit.signal ?? `code ${exit.code}`}), as a removed member does`;
      else {
        await proc.kill();
        outcome += '; it did not exit within 5 s and was killed';
      }
    }
    await this.proxy.removeMember(lane.name);
    return outcome;
  }

  /**
   * Puts a fresh member (new ID, new ports, empty data directory) in a lane
   * whose member was removed: `POST /v1/members` on `via`, then starts it
   * with `--join`. With `learner`, it joins as a learner (a non-voting
   * member; `promoteMember` makes it a voter once it has caught up).
   */
  async addMember(lane: Lane, via: Lane, opts: { learner?: boolean } = {}): Promise<string> {
    const learner = opts.learner === true;
    if (lane.state !== 'removed') throw new Error(`addMember: ${lane.name} is ${lane.state}`);
    const id = (this.nextId++).toString(16);
    const [listenPort, apiPort] = await Promise.all([freePort(), freePort()]);
    const proxyPort = await this.proxy.addMember(lane.name, listenPort);
    const a = await this.api(via, '/v1/members', {
      method: 'POST',
      body: JSON.stringify(learner ? { id, peerUrl: url(proxyPort), learner } : { id, peerUrl: url(proxyPort) }),
      timeoutMs: 12_000,
    });
    let outcome = a.kind === 'response' ? `POST answered ${a.status}` : `POST failed (${a.code})`;
    if (!(a.kind === 'response' && a.status === 201)) {
      const added = await this.waitMembership(via, (peers) => peers.includes(id), 10_000);
      outcome += added ? ', then the member was listed' : ', and the member is not listed';
      if (!added) {
        await this.proxy.removeMember(lane.name);
        return outcome;
      }
    }
    lane.id = id;
    lane.ids.push(id);
    lane.listenPort = listenPort;
    lane.apiPort = apiPort;
    lane.proxyPort = proxyPort;
    lane.dataDir = join(this.o.dir, 'data', `${lane.name}-${id}`);
    await rm(lane.dataDir, { recursive: true, force: true });
    this.spawn(lane, true);
    return `${outcome}; started ${learner ? 'learner' : 'member'} ${id} with --join`;
  }

  /**
   * Makes the lane's learner a voter: `POST /v1/members/:id/promote` on
   * `via`, retried while the answer is not definite (a 409 while another
   * change is in flight, a 503 or a lost answer), until the membership
   * shows it as a voter or `timeoutMs` passes. Resolves with what happened.
   */
  async promoteMember(lane: Lane, via: () => Promise<Lane | null>, timeoutMs: number): Promise<string> {
    const id = lane.id;
    const deadline = performance.now() + timeoutMs;
    const answers: string[] = [];
    while (performance.now() < deadline) {
      const v = await via();
      if (v) {
        const a = await this.api(v, `/v1/members/${id}/promote`, { method: 'POST', timeoutMs: 12_000 });
        const answer = a.kind === 'response' ? `${a.status}` : a.code;
        if (answers[answers.length - 1] !== answer) answers.push(answer);
        if (a.kind === 'response' && a.status === 200) return `promoted learner ${id} (answers: ${answers.join(', ')})`;
        if (a.kind === 'response' && a.status >= 400 && a.status < 500 && a.status !== 409)
          return `promotion of ${id} refused (answers: ${answers.join(', ')})`;
        // A 409 saying it is already a voter: an earlier attempt whose answer was lost took effect.
        if (a.kind === 'response' && a.status === 409 && JSON.stringify(a.body).includes('already a voter'))
          return `learner ${id} is a voter (answers: ${answers.join(', ')})`;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    return `learner ${id} not promoted within ${Math.round(timeoutMs / 1000)} s (answers: ${answers.join(', ')})`;
  }

  private async waitMembership(via: Lane, cond: (peerIds: string[]) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const s = await this.status(via);
      if (s && cond([s.id, ...s.peers.map((p) => p.id)])) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  }

  /** Stops everything: every member is killed, the proxy closed. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.lanes.map((l) => l.proc?.kill()));
    await this.proxy.close();
  }
}
