// What the etcd-profile tests use: the etcd entry and the core model it encodes.
export * from '../../src/index.js';
export * from '../../src/etcd/index.js';
export { LINK_HEARTBEAT } from '../../src/message.js';
export { MsgAppFrame } from '../../src/msgapp-codec.js';
export { majorMinorKey, parseVersion } from '../../src/version.js';
