/**
 * core's transport compliance suite over WebRTC with every member in
 * Chromium: each member is a real `Transport` over `WebRtcLink` in its own
 * page and browser context (the isomorphic build, the page's own
 * RTCPeerConnection; /usr/bin/chromium through playwright-core), and the
 * members talk to each other over real peer connections on loopback. The
 * suite runs in Node and drives each page's member through core's JSON
 * bridge over `page.evaluate`, so every case of the suite runs unchanged
 * against the page transports; the cases time what they time on the page's
 * own clock. Pages are opened once and host a fresh member (fresh link,
 * fresh signalling relay) for every test.
 */
import { type ComplianceSetup, runMemberCompliance } from '@raftwire/core/compliance';
import { type ComplianceMember, type Wire, remoteComplianceMember } from '@raftwire/core/testing';
import { afterAll, beforeAll, expect } from 'vitest';
import { webrtcUrl } from '../../src/webrtc/index.js';
import type { CompliancePageApi } from './chromium/compliance-page.js';
import { type ChromiumSite, type MemberPage, openMemberPage, startChromium } from './chromium/harness.js';

let chromium: ChromiumSite | undefined;
const pages: MemberPage[] = [];

beforeAll(async () => {
  const c = await startChromium('compliance-page.ts', 0n);
  chromium = c;
  // As many pages as the largest case has members, opened side by side once.
  pages.push(...(await Promise.all([1, 2, 3].map(() => openMemberPage(c.browser, c.site, 'compliance')))));
}, 60_000);

afterAll(async () => {
  for (const p of pages.splice(0)) await p.context.close();
  await chromium?.close();
});

type Api = CompliancePageApi;
/** Calls `window.compliance[name](...args)` in the page. */
function inPage<K extends keyof Api>(p: MemberPage, name: K, ...args: Parameters<Api[K]>): Promise<Awaited<ReturnType<Api[K]>>> {
  return p.page.evaluate(
    ([n, a]) => {
      const api = (window as unknown as { compliance: Record<string, (...x: unknown[]) => unknown> }).compliance;
      return api[n as string]?.(...(a as unknown[]));
    },
    [name, args] as const,
  ) as never;
}

async function chromiumCluster(count: number, setup: ComplianceSetup) {
  if (chromium === undefined || pages.length < count) throw new Error(`Chromium did not start ${count} member pages`);
  const used = pages.slice(0, count);
  const relay = chromium.site.openRelay(setup.clusterId);
  const hex = setup.ids.map((id) => id.toString(16));
  await Promise.all(used.map((p, i) => inPage(p, 'start', hex[i] as string, setup.clusterId.toString(16), relay.url, setup.timeouts)));
  const members: ComplianceMember[] = used.map((p, i) => {
    const id = setup.ids[i] as bigint;
    return remoteComplianceMember(
      id,
      webrtcUrl(id),
      async (method, args) => JSON.parse(await inPage(p, 'call', method, JSON.stringify(args))) as Wire,
    );
  });
  return {
    members,
    dropConnections: (i: number) =>
      inPage(
        used[i] as MemberPage,
        'dropConnections',
        hex.filter((_, j) => j !== i),
      ),
    close: async () => {
      await Promise.all(used.map((p) => inPage(p, 'close')));
      relay.close();
      // An uncaught error in a page fails the test that caused it.
      for (const p of used) expect(p.errors.splice(0)).toEqual([]);
    },
  };
}

runMemberCompliance('webrtc-chromium', chromiumCluster);
