/**
 * Browser entry of the compliance suite in Chromium: the page hosts one
 * compliance member at a time, a real core `Transport` over `WebRtcLink`
 * (the isomorphic build, the page's own RTCPeerConnection through
 * simple-peer), signalling through an HTTP relay of the Node test process.
 * The suite in Node drives it through `window.compliance.call`, core's JSON
 * bridge for {@link ComplianceMember}, so every case runs against the page's
 * transport exactly as it does against one in Node.
 */
import { type Timeouts, parseId } from '@raftwire/core';
import {
  type ComplianceInvoke,
  type ComplianceMethod,
  LocalComplianceMember,
  type Wire,
  complianceMemberHost,
} from '../../../../core/src/testing/index.js';
import { HttpRelaySignaling, WebRtcLink, loadSimplePeer, simplePeerFactory, webrtcUrl } from '../../../src/webrtc/index.js';

let current: { member: LocalComplianceMember; link: WebRtcLink; host: ComplianceInvoke } | undefined;

function running(): NonNullable<typeof current> {
  if (current === undefined) throw new Error('no compliance member in this page (call start first)');
  return current;
}

const compliance = {
  /** Makes and starts this page's member (after `close()` of the previous one). */
  async start(idHex: string, clusterHex: string, relayUrl: string, timeouts: Partial<Timeouts>): Promise<void> {
    if (current !== undefined) throw new Error('this page already hosts a compliance member');
    const id = parseId(idHex);
    const clusterId = parseId(clusterHex);
    const SimplePeer = await loadSimplePeer();
    const link = await WebRtcLink.create({
      localId: id,
      clusterId,
      signaling: new HttpRelaySignaling({ baseUrl: relayUrl }),
      peerConnectionFactory: simplePeerFactory({ SimplePeer }),
      connectTimeoutMs: 10_000,
    });
    const member = await LocalComplianceMember.create({
      id,
      clusterId,
      url: webrtcUrl(id),
      link,
      serve: (handler) => link.setHandler(handler),
      timeouts,
    });
    current = { member, link, host: complianceMemberHost(member) };
  },
  /** One member call; arguments and result as JSON text (Playwright carries one long string far faster than a deep object). */
  async call(method: ComplianceMethod, argsJson: string): Promise<string> {
    return JSON.stringify(await running().host(method, JSON.parse(argsJson) as Wire[]));
  },
  /** Closes this member's peer connections outright (the suite's `dropConnections`); the next dial rebuilds them. */
  dropConnections(peerHexes: string[]): void {
    const { link } = running();
    for (const h of peerHexes) link.connection(parseId(h))?.peerConnection.close();
  },
  /** Stops the member and closes its link, leaving no peer connection behind. */
  async close(): Promise<void> {
    const c = current;
    current = undefined;
    if (c === undefined) return;
    await c.member.stop();
    await c.link.close();
  },
};

export type CompliancePageApi = typeof compliance;
Object.assign(window, { compliance });
