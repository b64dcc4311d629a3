/**
 * Runs a fault schedule against a {@link ChaosCluster}: one fault at a time,
 * each healed after its duration, the next one starting at its scheduled time
 * (or at once, when a slow step ran over). Every fault is recorded with what
 * its targets resolved to and when it was healed, and after each heal the
 * time until the cluster has a leader again is measured.
 */
import type { ChaosCluster, Lane } from './cluster/chaos-cluster.js';
import type { Monitor } from './monitor.js';
import type { FaultStep, TargetSpec } from './schedule.js';
import { describeFaults, HEALTHY, type LinkFaults } from './proxy/link-faults.js';

export interface FaultRecord {
  index: number;
  kind: string;
  /** ms since the start of the run. */
  start: number;
  /** When the heal finished (null if the run ended first). */
  healed: number | null;
  /** Lanes the fault hit. */
  lanes: string[];
  /** What was done, in words (resolved targets, link settings, API answers). */
  detail: string;
  /** ms from the heal until a leader was confirmed (null: not measured, NaN: none before the run ended). */
  leaderlessAfterHeal: number | null;
}

export interface NemesisOptions {
  now: () => number;
  log: (line: string) => void;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) {
      resolve();
      return;
    }
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export class Nemesis {
  readonly records: FaultRecord[] = [];
  private readonly measuring: Promise<void>[] = [];

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly monitor: Monitor,
    private readonly schedule: readonly FaultStep[],
    private readonly o: NemesisOptions,
  ) {}

  /** Runs the schedule until it ends or `signal` aborts (the fault in progress is then healed at once). */
  async run(signal: AbortSignal): Promise<void> {
    for (const step of this.schedule) {
      await sleep(step.at - this.o.now(), signal);
      if (signal.aborted) return;
      await this.runStep(step, signal);
    }
  }

  /** Waits for the leader measurements still running (they end when the monitor stops). */
  async settled(): Promise<void> {
    await Promise.all(this.measuring);
  }

  private async runStep(step: FaultStep, signal: AbortSignal): Promise<void> {
    const rec: FaultRecord = {
      index: step.index,
      kind: step.kind,
      start: this.o.now(),
      healed: null,
      lanes: [],
      detail: '',
      leaderlessAfterHeal: null,
    };
    this.records.push(rec);
    const leader = (await this.cluster.leader())?.lane ?? null;
    const targets = this.resolve(step.targets, leader);
    rec.lanes = targets.map((l) => l.name);
    const who = (l: Lane): string => `${l.name} (member ${l.id}${l === leader ? ', leader' : ''})`;
    const names = targets.map(who).join(' + ');
    const secs = (step.durationMs / 1000).toFixed(1);
    const header = `fault ${step.index + 1}/${this.schedule.length}: ${step.kind}`;
    let heal = async (): Promise<string> => 'nothing to heal';
    const proxy = this.cluster.proxy;
    const others = (set: Lane[]) => this.cluster.members().filter((l) => !set.includes(l));
    const setLinks = (pairs: [Lane, Lane][], f: Partial<LinkFaults>): void => {
      for (const [a, b] of pairs) proxy.setLink(a.name, b.name, f);
    };
    const healLinks = async (): Promise<string> => {
      proxy.heal();
      return 'links healed';
    };
    switch (step.kind) {
      case 'kill': {
        await Promise.all(targets.map((l) => this.cluster.kill(l)));
        rec.detail = `SIGKILL ${names}, restart after ${secs} s`;
        heal = async () => {
          for (const l of targets) this.cluster.restart(l);
          return `restarted ${targets.map((l) => l.name).join(', ')} from their data directories`;
        };
        break;
      }
      case 'stop': {
        for (const l of targets) this.cluster.stop(l);
        rec.detail = `SIGSTOP ${names} for ${secs} s`;
        heal = async () => {
          for (const l of targets) this.cluster.cont(l);
          return `SIGCONT ${targets.map((l) => l.name).join(', ')}`;
        };
        break;
      }
      case 'restart': {
        await Promise.all(targets.map((l) => this.cluster.terminate(l)));
        rec.detail = `SIGTERM ${names}, start again after ${secs} s`;
        heal = async () => {
          for (const l of targets) this.cluster.restart(l);
          return `started ${targets.map((l) => l.name).join(', ')} again`;
        };
        break;
      }
      case 'torn':
      case 'torn-extra': {
        const mode = step.kind === 'torn' ? 'cut' : 'extra';
        const parts: string[] = [];
        for (const l of targets) {
          await this.cluster.kill(l);
          const t = await this.cluster.tear(l, mode);
          parts.push(
            t.skipped
              ? `${who(l)}: WAL not torn (${t.skipped})`
              : `${who(l)}: WAL ${mode === 'cut' ? 'cut' : 'extended'} from ${t.bytesBefore} to ${t.bytesAfter} bytes (${t.records} records)`,
          );
        }
        rec.detail = `SIGKILL, then ${parts.join('; ')}; restart after ${secs} s`;
        heal = async () => {
          for (const l of targets) this.cluster.restart(l);
          return `restarted ${targets.map((l) => l.name).join(', ')}`;
        };
        break;
      }
      case 'partition':
      case 'isolate': {
        const minority = targets;
        const majority = others(minority);
        const pairs: [Lane, Lane][] = [];
        for (const a of minority) for (const b of majority) pairs.push([a, b], [b, a]);
        setLinks(pairs, { blocked: true });
        rec.detail = `partition {${minority.map((l) => l.name).join(', ')}} | {${majority.map((l) => l.name).join(', ')}} (${names} cut off) for ${secs} s`;
        heal = healLinks;
        break;
      }
      case 'oneway': {
        const [x] = targets;
        if (!x) break;
        const mute = step.params.direction === 'mute';
        setLinks(
          others([x]).map((y) => (mute ? [x, y] : [y, x])),
          { blocked: true },
        );
        rec.detail = mute
          ? `one-way: data from ${names} reaches no one (it still hears everyone) for ${secs} s`
          : `one-way: no data reaches ${names} (it can still send) for ${secs} s`;
        heal = healLinks;
        break;
      }
      case 'cut': {
        const pairs: [Lane, Lane][] = [];
        for (let i = 0; i + 1 < targets.length; i += 2) pairs.push([targets[i] as Lane, targets[i + 1] as Lane]);
        setLinks(pairs, { cut: true });
        rec.detail = `connections reset and refused between ${pairs.map(([a, b]) => `${a.name}–${b.name}`).join(', ')} for ${secs} s`;
        heal = healLinks;
        break;
      }
      case 'delay': {
        const all = this.cluster.members();
        const f = { delayMs: Number(step.params.delayMs), jitterMs: Number(step.params.jitterMs) };
        setLinks(
          all.flatMap((a) => all.filter((b) => b !== a).map((b): [Lane, Lane] => [a, b])),
          f,
        );
        rec.detail = `every link: ${describeFaults({ ...HEALTHY, ...f })} for ${secs} s`;
        heal = healLinks;
        break;
      }
      case 'loss':
      case 'slow': {
        const f: Partial<LinkFaults> =
          step.kind === 'loss' ? { loss: Number(step.params.loss) } : { bandwidth: Number(step.params.bandwidth) };
        const pairs: [Lane, Lane][] = [];
        for (const x of targets) for (const y of others([x])) pairs.push([x, y], [y, x]);
        setLinks(pairs, f);
        rec.detail = `links of ${names}: ${describeFaults({ ...HEALTHY, ...f })} both ways for ${secs} s`;
        heal = healLinks;
        break;
      }
      case 'member': {
        const [victim] = targets;
        if (!victim || !leader) {
          rec.detail = 'membership change skipped: no leader or no follower';
          break;
        }
        const oldId = victim.id;
        const learner = step.params.learner === true;
        const removed = await this.cluster.removeMember(victim, leader);
        let added = 'not added back';
        if (victim.state === 'removed') {
          const via = (await this.cluster.waitForLeader(10_000))?.lane ?? leader;
          added = await this.cluster.addMember(victim, via, { learner });
        }
        rec.detail = `remove member ${oldId} (${victim.name}) via ${leader.name}: ${removed}; add a fresh ${learner ? 'learner' : 'member'} in ${victim.name}: ${added}`;
        heal = async () => {
          const caughtUp = await this.waitCaughtUp(victim, 20_000, signal);
          const caught = caughtUp ? `member ${victim.id} caught up` : `member ${victim.id} had not caught up after 20 s`;
          if (!learner || victim.state === 'removed') return caught;
          // A learner catches up without voting; only then is it made a voter (etcd's learner flow).
          const promoted = await this.cluster.promoteMember(
            victim,
            async () => (await this.cluster.waitForLeader(5000, signal))?.lane ?? null,
            20_000,
          );
          return `${caught}; ${promoted}`;
        };
        break;
      }
    }
    this.o.log(`${header} — ${rec.detail}`);
    if (step.kind !== 'member') await sleep(step.durationMs - (this.o.now() - rec.start), signal);
    const healed = await heal();
    rec.healed = this.o.now();
    this.o.log(`heal ${step.kind}: ${healed}`);
    const healedAt = rec.healed;
    this.measuring.push(
      this.monitor.leaderSince(healedAt).then((t) => {
        rec.leaderlessAfterHeal = Number.isNaN(t) ? Number.NaN : Math.max(0, t - healedAt);
        if (!Number.isNaN(t)) {
          const l = this.monitor.current();
          this.o.log(
            `leader ${l?.leader ?? '?'} (${l?.lane ?? '?'}) confirmed ${(rec.leaderlessAfterHeal / 1000).toFixed(2)} s after the heal`,
          );
        }
      }),
    );
  }

  /** Lanes for the targets, each distinct; a role with no candidate falls back to any running member. */
  private resolve(specs: readonly TargetSpec[], leader: Lane | null): Lane[] {
    const chosen: Lane[] = [];
    const running = () => this.cluster.members().filter((l) => l.state === 'running' && !chosen.includes(l));
    for (const s of specs) {
      let pool: Lane[];
      if (s.role === 'leader') pool = leader && !chosen.includes(leader) ? [leader] : running();
      else if (s.role === 'follower') pool = running().filter((l) => l !== leader);
      else pool = running();
      if (pool.length === 0) pool = running();
      const pick = pool[Math.min(pool.length - 1, Math.floor(s.pick * pool.length))];
      if (pick) chosen.push(pick);
    }
    return chosen;
  }

  private async waitCaughtUp(lane: Lane, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const deadline = this.o.now() + timeoutMs;
    while (this.o.now() < deadline && !signal.aborted) {
      const leader = await this.cluster.leader();
      const s = await this.cluster.status(lane);
      if (leader && s) {
        const ls = await this.cluster.status(leader.lane);
        if (ls && s.applied >= ls.commit - 1) return true;
      }
      await sleep(250, signal);
    }
    return false;
  }

  /**
   * Heals everything at the end of a run: links, stopped and killed members,
   * and a lane left empty by a membership change that did not complete.
   */
  async healAll(): Promise<string[]> {
    const done: string[] = [];
    if (!this.cluster.proxy.healthy()) {
      this.cluster.proxy.heal();
      done.push('links healed');
    }
    for (const l of this.cluster.lanes) {
      if (l.state === 'stopped') {
        this.cluster.cont(l);
        done.push(`SIGCONT ${l.name}`);
      } else if (l.state === 'killed') {
        this.cluster.restart(l);
        done.push(`restarted ${l.name}`);
      }
    }
    for (const l of this.cluster.lanes) {
      if (l.state !== 'removed') continue;
      const leader = await this.cluster.waitForLeader(20_000);
      if (leader) done.push(`${l.name}: ${await this.cluster.addMember(l, leader.lane)}`);
    }
    return done;
  }
}
