import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '@raftwire/core';
import { waitFor } from '@raftwire/core/testing';
import { type Cluster, makeCluster } from './fixtures.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

describe('prober', () => {
  it('measures a smoothed RTT and records it as a metric', async () => {
    c = makeCluster(2, { connect: false, common: { timeouts: { probe: 50 } } });
    c.net.setFault(c.m(0).url, c.m(1).url, { delayMs: 15 });
    c.net.setFault(c.m(1).url, c.m(0).url, { delayMs: 15 });
    c.m(0).transport.addPeer(2n, [c.m(1).url]);
    const st = await waitFor(
      () => {
        const s = c!.m(0).transport.probingStatus(2n);
        return s && s.total - s.loss >= 4 ? s : undefined;
      },
      'four probes',
      10_000,
    );
    expect(st.healthy).toBe(true);
    expect(st.srttMs).toBeGreaterThanOrEqual(40); // set-up + response each take two one-way delays
    expect(st.srttMs).toBeLessThan(2000);
    expect(c.m(0).metrics.observations('etcd_network_peer_round_trip_time_seconds', { To: '2' }).length).toBeGreaterThanOrEqual(4);
  });

  it('warns about clock drift above one second', async () => {
    const skewed = { ...systemClock, now: () => Date.now() - 3000 };
    c = makeCluster(2, { common: { timeouts: { probe: 50 } }, per: (i) => (i === 1 ? { clock: skewed } : {}) });
    const line = await waitFor(() => c!.m(0).logger.find('prober found high clock drift')[0], 'drift warning', 10_000);
    expect(line.level).toBe('warn');
    expect(c.m(0).transport.probingStatus(2n)!.clockDriftMs).toBeGreaterThan(2000);
    expect(c.m(1).logger.find('prober found high clock drift')).toEqual([]); // only the side that is ahead warns
  });

  it('reports an unhealthy peer and rotates URLs', async () => {
    c = makeCluster(2, { common: { timeouts: { probe: 50 } } });
    c.m(1).unserve();
    c.m(0).transport.updatePeer(2n, ['memory://gone', c.m(1).url]);
    const st = await waitFor(
      () => {
        const s = c!.m(0).transport.probingStatus(2n);
        return s && s.loss >= 2 ? s : undefined;
      },
      'failed probes',
      10_000,
    );
    expect(st.healthy).toBe(false);
    expect(st.lastError).toContain('refused');
    expect(c.m(0).logger.find('prober detected unhealthy status').length).toBeGreaterThan(0);
  });
});
