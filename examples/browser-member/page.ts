// Three raftwire members in one browser page, over WebRTC data channels, each keeping its log and
// hard state in IndexedDB: they elect a leader and count the page's loads in a replicated key.
// Reload the page: every member says what it recovered from IndexedDB before it starts, and the
// count goes on from where it was.
//   node examples/browser-member/serve.mjs [port]    then open http://127.0.0.1:<port>/
//
// WebRTC members do not authenticate each other yet, so the API asks for `insecure: true`; keep
// the page and its signalling private. There is no secure form yet (see docs/runtimes/browser.md).
import { InPageSignalingHub } from '@raftwire/adapters/webrtc';
import { createConsoleLogger } from '@raftwire/core';
import { createWebRtcMember, DEFAULT_CLUSTER_ID } from '@raftwire/member/webrtc';
import { encodeKvCommand } from '@raftwire/raft';
import { IndexedDbStorage } from '@raftwire/raft/browser';

const out = document.getElementById('log') as HTMLElement;
const say = (line: string) => {
  out.textContent += `${line}\n`;
};

const ids = [1n, 2n, 3n];
const logger = createConsoleLogger({ level: 'warn' }); // the default logs every event at info, to the console
// In one page offers and answers travel through a hub; across pages and hosts use
// HttpRelaySignaling to a Node member's relay.
const signaling = new InPageSignalingHub(DEFAULT_CLUSTER_ID);
const members = [];
for (const id of ids) {
  // One IndexedDB database per member; opening it fences any older copy (another tab) off it.
  const storage = await IndexedDbStorage.open({ name: `raftwire-example-member-${id}` });
  const { hardState } = storage.initialState();
  say(`member ${id} recovered ${storage.lastIndex()} log entries from IndexedDB (term ${hardState.term}, commit ${hardState.commit})`);
  members.push(await createWebRtcMember({ id, peers: ids, signaling, storage, insecure: true, logger }));
}

const timeout = () => ({ signal: AbortSignal.timeout(20_000) });
const before = await members[0]!.node.read('loads', timeout());
const loads = before === null ? 1 : Number(new TextDecoder().decode(before)) + 1;
await members[1]!.node.propose(encodeKvCommand({ op: 'put', key: 'loads', value: new TextEncoder().encode(String(loads)) }), timeout());
for (const m of members) {
  const v = await m.node.read('loads', timeout());
  say(`member ${m.id} reads loads = ${new TextDecoder().decode(v ?? new Uint8Array())}`);
}
const { leader, term } = members[0]!.node.status();
say(`leader is member ${leader} in term ${term}; reload the page to see the members recover`);
document.title = `raftwire: loads = ${loads}`;
