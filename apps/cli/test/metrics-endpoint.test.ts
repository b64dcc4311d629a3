/**
 * `GET /metrics` on a running CLI member's API port: the Prometheus text exposition parses, and
 * carries etcd's names with values that follow the cluster (a leader, committed and applied
 * writes, bytes to and from peers, round-trip times).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { api, freePort, type MemberProcess, spawnMember } from './member-process.js';

interface Family {
  help: string;
  type: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** Parses the Prometheus text format (0.0.4): HELP and TYPE lines, then `name{labels} value` samples. Throws on any other line. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { help: '', type: '', samples: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'HELP') family(m[2] as string).help = m[3] as string;
      else family(m[2] as string).type = m[3] as string;
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${JSON.stringify(line)}`);
    const name = m[1] as string;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    const value = m[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[3]);
    if (Number.isNaN(value)) throw new Error(`not a sample value: ${JSON.stringify(line)}`);
    const base = name.replace(/_(bucket|sum|count)$/, '');
    family(families.has(base) ? base : name).samples.push({ name, labels, value });
  }
  return families;
}

const procs: MemberProcess[] = [];
afterAll(async () => {
  for (const p of procs) if (!p.exit) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
});

describe('raftwire member: GET /metrics', () => {
  it('serves etcd_network_* and etcd_server_* in the Prometheus text format', async () => {
    const ports = await Promise.all(Array.from({ length: 6 }, freePort));
    const url = (i: number) => `http://127.0.0.1:${ports[i]}`;
    const members = [1, 2, 3].map((n, k) => ({ id: String(n), peerUrl: url(2 * k), apiUrl: url(2 * k + 1) }));
    for (const m of members) {
      const peers = members.filter((p) => p !== m).flatMap((p) => ['--peer', `${p.id}=${p.peerUrl}`]);
      procs.push(spawnMember({ ...m, extra: [...peers, '--tick-ms', '50', '--log-level', 'warn'] }));
    }
    const first = procs[0] as MemberProcess;
    const deadline = Date.now() + 30_000;
    let put = 0;
    while (put !== 200) {
      if (Date.now() > deadline) throw new Error('no write committed within 30 s');
      put = await api(`${first.apiUrl}/v1/kv/greeting`, { method: 'PUT', body: 'hello', timeoutMs: 3000 }).then(
        (r) => r.status,
        () => 0,
      );
      if (put !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    // The leader sends to every peer (a follower only answers the leader): scrape the leader.
    const leaderId = String((await api(`${first.apiUrl}/v1/status`)).body.leader);
    const leader = procs[members.findIndex((m) => m.id === leaderId)] as MemberProcess;
    const others = members.filter((m) => m.id !== leaderId).map((m) => m.id);
    expect(others).toHaveLength(2);
    // Probes run every 4 s: wait for a round-trip sample.
    let families = new Map<string, Family>();
    for (;;) {
      const res = await fetch(`${leader.apiUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      families = parseExposition(await res.text());
      const rtt = families.get('etcd_network_peer_round_trip_time_seconds');
      if (rtt?.samples.some((s) => s.name.endsWith('_count') && s.value > 0)) break;
      if (Date.now() > deadline + 10_000) throw new Error('no round-trip sample within 40 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    const value = (name: string, labels: Record<string, string> = {}) =>
      families.get(name)?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    expect(families.get('etcd_server_has_leader')).toMatchObject({
      type: 'gauge',
      help: 'Whether or not a leader exists. 1 is existence, 0 is not.',
    });
    expect(value('etcd_server_has_leader')).toBe(1);
    expect(value('etcd_server_leader_changes_seen_total')).toBeGreaterThanOrEqual(1);
    expect(families.get('etcd_server_leader_changes_seen_total')?.type).toBe('counter');
    const applied = value('etcd_server_proposals_applied_total') ?? 0;
    expect(applied).toBeGreaterThanOrEqual(2);
    expect(value('etcd_server_proposals_committed_total')).toBeGreaterThanOrEqual(applied);
    expect(value('etcd_server_proposals_pending')).toBe(0);
    expect(value('etcd_server_proposals_failed_total')).toBe(0);
    for (const peer of others) {
      expect(value('etcd_network_peer_sent_bytes_total', { To: peer })).toBeGreaterThan(0);
      expect(value('etcd_network_peer_received_bytes_total', { From: peer })).toBeGreaterThan(0);
      expect(value('etcd_network_active_peers', { Local: leaderId, Remote: peer })).toBe(1);
    }
    expect(families.get('etcd_network_peer_round_trip_time_seconds')?.type).toBe('histogram');
    const buckets = families.get('etcd_network_peer_round_trip_time_seconds')?.samples.filter((s) => s.name.endsWith('_bucket')) ?? [];
    expect(buckets.some((b) => b.labels.le === '0.0001')).toBe(true);
    expect(buckets.some((b) => b.labels.le === '+Inf')).toBe(true);
    expect(families.has('process_cpu_user_seconds_total')).toBe(true);

    const wrong = await api(`${first.apiUrl}/metrics`, { method: 'POST' });
    expect(wrong.status).toBe(405);
  }, 90_000);
});
