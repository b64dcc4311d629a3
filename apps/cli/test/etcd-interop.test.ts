/**
 * raftwire and a real etcd 3.4 cluster (Debian's etcd-server) on 127.0.0.1.
 *
 * 1. A raftwire Transport with the `etcd-3.4` profile, added to etcd as a learner: etcd's members
 *    and it dial each other's streams (both directions work), probe each other, etcd decodes what
 *    it writes; after `etcdctl member remove` it is told `removed` by a 410/403.
 * 2. The acceptance run: 3 etcd members (`--snapshot-count 100`), 5 200 keys, `raftwire etcd-member`
 *    added with `etcdctl member add` catches up by etcd's snapshot and publishes its name; with the
 *    etcd leader stopped its vote and acknowledgements make the quorum (puts and linearizable gets
 *    go on, an election among the rest needs its vote); stopped too, puts time out; restarted from
 *    its data dir, puts resume; SIGKILLed under load and restarted, every acknowledged put reads
 *    back; `etcdctl member remove` makes it exit 3.
 * 3. With peer TLS (etcd's --peer-cert-file, --peer-key-file, --peer-trusted-ca-file and client
 *    certificate auth): `raftwire etcd-member` with the same flags joins as a learner from etcd's log.
 */
import { NodeHttpLink, startRaftServer } from '@raftwire/adapters/http/node';
import { createMessage, type Id, MessageType, Transport } from '@raftwire/core';
import { decodeEtcdMemberList } from '@raftwire/core/etcd';
import { RecordingRaft } from '@raftwire/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addedMemberId, EtcdCluster, killAll, makePeerTls, requireEtcd, spawnEtcdMember, tempDir, waitFor } from './etcd-harness.js';
import { freePort, pool } from './member-process.js';

let etcd: EtcdCluster;

beforeAll(async () => {
  requireEtcd();
  etcd = await EtcdCluster.start(3, ['--snapshot-count', '100']);
}, 60_000);

afterAll(async () => {
  await killAll();
});

/** The cluster ID and members, from an etcd peer's GET /members. */
async function clusterOf(peerUrl: string): Promise<{ clusterId: Id; members: { id: Id; peerURLs: string[] }[] }> {
  const res = await fetch(`${peerUrl}/members`, { signal: AbortSignal.timeout(5000) });
  const clusterId = BigInt(`0x${res.headers.get('x-etcd-cluster-id')}`);
  return { clusterId, members: decodeEtcdMemberList(await res.text()) };
}

/**
 * A membership change with etcdctl. etcd's strict reconfiguration check answers `unhealthy
 * cluster` until the voters have been connected for 5 s (its HealthInterval): as an operator
 * would, try again then.
 */
async function reconfigure(args: string[]): Promise<string> {
  let last = '';
  const r = await waitFor(`etcdctl member ${args[0]}`, 20_000, () => {
    const out = etcd.ctl(['member', ...args]);
    last = out.stderr;
    if (out.code === 0) return out;
    if (!/unhealthy cluster|not enough started members/.test(out.stderr))
      throw new Error(`etcdctl member ${args.join(' ')}: ${out.stderr}`);
    return null;
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}: ${last}`);
  });
  return r.stdout;
}

/** `etcdctl member add` → the new member's hex ID. */
async function memberAdd(name: string, url: string, learner = false): Promise<string> {
  const out = await reconfigure(['add', name, `--peer-urls=${url}`, ...(learner ? ['--learner'] : [])]);
  return addedMemberId(out);
}

/** A counter of etcd's Prometheus metrics (client URL /metrics) for one series. */
async function metric(clientUrl: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${clientUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** The etcd leader's member ID (hex), from `etcdctl endpoint status`. */
function leaderId(): string {
  const r = etcd.ctl(['endpoint', 'status', '-w', 'json']);
  const m = /"leader":(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`no leader in endpoint status: ${r.stdout} ${r.stderr}`);
  return BigInt(m[1] as string).toString(16);
}

describe.sequential('raftwire and etcd 3.4.23', () => {
  it('a Transport with the etcd-3.4 profile and etcd members exchange streams both ways, probe, and it is told when removed', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const hexId = await memberAdd('rw-transport', url, true);
    const id = BigInt(`0x${hexId}`);
    const { clusterId, members } = await clusterOf(etcd.nodes[0]?.peerUrl as string);
    const raft = new RecordingRaft();
    const link = new NodeHttpLink();
    const transport = new Transport({ wire: 'etcd-3.4', id, clusterId, urls: [url], link, raft });
    // answer the leader's heartbeats as a follower would: over our stream to it
    raft.onMessage = (m) => {
      if (m.type === MessageType.MsgHeartbeat) {
        transport.send([createMessage({ type: MessageType.MsgHeartbeatResp, from: id, to: m.from, term: m.term, context: m.context })]);
      }
    };
    const served: string[] = [];
    const server = await startRaftServer({
      handler: Object.assign(
        (req: Parameters<typeof transport.handler>[0]) => {
          served.push(`${req.method} ${req.path}`);
          return transport.handler(req);
        },
        { extraPaths: transport.handler.extraPaths ?? [] },
      ),
      port,
    });
    const removed: string[] = [];
    transport.on('removed', (e) => removed.push(e.error.message));
    try {
      transport.start();
      const others = members.filter((m) => m.id !== id);
      for (const m of others) transport.addPeer(m.id, m.peerURLs);
      // both directions: our readers dialled theirs, their readers dialled ours (our writers attached)
      await waitFor('streams both ways with every etcd member', 20_000, () => others.every((m) => transport.get(m.id)?.streamsWorking));
      await waitFor('heartbeats from the etcd leader', 10_000, () => raft.received.some((m) => m.type === MessageType.MsgHeartbeat));
      const leader = (raft.received.find((m) => m.type === MessageType.MsgHeartbeat) as { from: Id }).from;
      const leaderNode = etcd.nodes.find((n) => others.find((m) => m.id === leader)?.peerURLs.includes(n.peerUrl));
      // etcd decoded what our stream writer sent it, and counts us an active peer
      await waitFor(
        'etcd to receive our frames',
        10_000,
        async () => (await metric(leaderNode?.clientUrl ?? '', 'etcd_network_peer_received_bytes_total', `From="${hexId}"`)) > 0,
      );
      for (const n of etcd.nodes) {
        expect(await metric(n.clientUrl, 'etcd_network_active_peers', `Remote="${hexId}"`)).toBe(1);
      }
      // probing both ways: ours of them, theirs of us (every 4 s), and their GET /version polls
      await waitFor('our probes of etcd to succeed', 15_000, () => others.every((m) => transport.probingStatus(m.id)?.healthy));
      await waitFor(
        'etcd to probe us and read our /version',
        15_000,
        () => served.includes('GET /raft/probing') && served.includes('GET /version'),
      );
      const version = await fetch(`${url}/version`);
      expect(await version.text()).toBe('{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}');

      await reconfigure(['remove', hexId]);
      await waitFor('the transport to be told it was removed', 15_000, () => removed.length > 0);
      expect(removed[0]).toMatch(/answered (410|403)/);
    } finally {
      await transport.stop();
      await server.close({ signal: AbortSignal.timeout(1000) });
      link.close();
    }
  }, 90_000);

  it('a raftwire etcd-member joins by snapshot, its vote counts for quorum, it survives restarts and SIGKILL, and exits 3 when removed', async () => {
    const t0 = Date.now();
    const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    const stage: string[] = [];
    const mark = (s: string) => stage.push(`${at()} ${s}`);
    let rw = undefined as ReturnType<typeof spawnEtcdMember> | undefined;
    try {
      // etcd 3.4 keeps 5 000 entries behind each snapshot, so a little more than that many puts makes
      // it compact its log: a member added now can only catch up by a snapshot.
      await pool(5200, 128, async (i) => {
        const r = await etcd.put(`key-${i}`, `value-${i}`, 10_000);
        if (r !== 'ok') throw new Error(`put key-${i}: ${r}`);
      });
      mark('5 200 keys written');

      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const hexId = await memberAdd('rw1', url);
      const dataDir = tempDir('rw-etcd-member-');
      const args = [
        '--id',
        hexId,
        '--name',
        'rw1',
        '--listen',
        url,
        '--peers',
        etcd.nodes.map((n) => n.peerUrl).join(','),
        '--data-dir',
        dataDir,
        '--insecure',
        '--compact-entries',
        '1000',
        // The votes it casts (checked below) are logged at debug: INFO has one line per election.
        '--log-level',
        'debug',
      ];
      rw = spawnEtcdMember(args);
      const received = await rw.line('snapshot received', 30_000);
      expect(received).toMatch(/snapshot received [1-9]\d* bytes/);
      await rw.line('joined the cluster as a voter', 10_000);
      await rw.line('caught up at index', 20_000);
      await waitFor('etcdctl member list to show rw1 started', 30_000, () =>
        etcd.members().find((m) => m.id === hexId && m.status === 'started' && m.name === 'rw1'),
      );
      mark('caught up by snapshot and published');

      // Stop the etcd leader: 2 etcd members + rw1 are 3 of 4 voters, so the election needs rw1's vote.
      const leader = etcd.nodes.find((n) => etcd.members().find((m) => m.id === leaderId())?.peerUrls === n.peerUrl);
      if (!leader) throw new Error('cannot tell the etcd leader');
      const beforeStop = rw.lines.length;
      await etcd.stop(leader.name, 'SIGKILL');
      const put = await waitFor('etcdctl put with the leader stopped', 30_000, () => {
        const r = etcd.ctl(['put', 'after-leader-stop', 'yes', '--command-timeout=2s']);
        return r.code === 0 ? r : null;
      });
      expect(put.stdout).toContain('OK');
      const get = etcd.ctl(['get', 'after-leader-stop', '--consistency=l', '--print-value-only']);
      expect(get.stdout.trim()).toBe('yes');
      // the new leader was elected with rw1's vote
      const vote = await rw.line(`${hexId} cast MsgVote for`, 5000, beforeStop);
      mark(
        `etcd leader ${leader.name} SIGKILLed: rw1 voted (${vote.replace(/^.* cast /, '').split(' local-')[0]}); put and linearizable get work`,
      );

      // Stop rw1 too: 2 of 4 voters, no quorum.
      rw.child.kill('SIGTERM');
      expect((await rw.exited).code).toBe(0);
      const noQuorum = etcd.ctl(['put', 'without-quorum', 'no', '--command-timeout=3s'], 15_000);
      expect(noQuorum.code).not.toBe(0);
      expect(noQuorum.stderr).toMatch(/timed out|deadline exceeded|no leader/i);
      mark('rw1 stopped too: puts time out');

      // Restart it from its data dir: puts resume.
      rw = spawnEtcdMember(args);
      await rw.line('restarted from the data directory', 10_000);
      await waitFor(
        'puts to resume after rw1 restarted',
        30_000,
        () => etcd.ctl(['put', 'after-restart', 'yes', '--command-timeout=3s']).code === 0,
      );
      mark('rw1 restarted: puts resume');

      // SIGKILL it under load, restart, and read every acknowledged put back.
      const acked = new Map<string, string>();
      let loading = true;
      let next = 0;
      const load = Promise.all(
        Array.from({ length: 32 }, async () => {
          while (loading) {
            const i = next++;
            if ((await etcd.put(`load-${i}`, `v${i}`, 3000)) === 'ok') acked.set(`load-${i}`, `v${i}`);
          }
        }),
      );
      await waitFor('puts under load', 20_000, () => acked.size >= 300);
      // killed after it compacted its log (every 200 entries here): the restart starts from that state
      await rw.line('compacted the log up to index', 15_000);
      rw.child.kill('SIGKILL');
      await rw.exited;
      const beforeKill = acked.size;
      rw = spawnEtcdMember(args);
      await rw.line('restarted from the data directory', 10_000);
      await waitFor('puts to go on after the SIGKILL', 30_000, () => acked.size >= beforeKill + 300);
      loading = false;
      await load;
      const stored = await etcd.getPrefix('load-');
      const lost = [...acked].filter(([k, v]) => stored.get(k) !== v);
      expect(lost, `acknowledged puts not read back: ${lost.slice(0, 5).join(' ')}`).toEqual([]);
      mark(`SIGKILL under load: ${acked.size} acknowledged puts all read back`);

      // Removed: it exits 3.
      await reconfigure(['remove', hexId]);
      const exit = await Promise.race([rw.exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
      expect(exit?.code).toBe(3);
      await rw.line('removed from the cluster; exiting', 1000);
      mark('removed: exited 3');
    } catch (err) {
      const tail = rw ? rw.lines.slice(-30).join('\n') : '';
      throw new Error(
        `${(err as Error).message}\nstages: ${stage.join('; ')}\nraftwire log tail:\n${tail}\netcd e1 tail:\n${etcd.tail('e1', 10)}`,
        { cause: err },
      );
    } finally {
      console.log(`etcd acceptance run: ${stage.join('; ')}`);
    }
  }, 180_000);

  it('joins an etcd cluster whose peers use TLS with the same --peer-* flags as etcd, as a learner replaying the log', async () => {
    const tls = makePeerTls();
    const secure = await EtcdCluster.start(1, [], tls);
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const add = secure.ctl(['member', 'add', 'rw-tls', `--peer-urls=${url}`, '--learner']);
    expect(add.code, add.stderr).toBe(0);
    const hexId = addedMemberId(add.stdout);
    const rw = spawnEtcdMember([
      '--id',
      hexId,
      '--name',
      'rw-tls',
      '--listen',
      url,
      '--peers',
      secure.nodes[0]?.peerUrl as string,
      '--data-dir',
      tempDir('rw-etcd-tls-'),
      '--peer-cert-file',
      tls.certFile,
      '--peer-key-file',
      tls.keyFile,
      '--peer-trusted-ca-file',
      tls.caFile,
    ]);
    try {
      await rw.line('joined the cluster as a learner', 20_000);
      await waitFor('etcdctl member list to show rw-tls started', 20_000, () =>
        secure.members().find((m) => m.id === hexId && m.status === 'started' && m.name === 'rw-tls' && m.learner),
      );
      expect(secure.ctl(['member', 'remove', hexId]).code).toBe(0);
      const exit = await Promise.race([rw.exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
      expect(exit?.code).toBe(3);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nraftwire log tail:\n${rw.lines.slice(-30).join('\n')}`, { cause: err });
    }
  }, 60_000);
});
