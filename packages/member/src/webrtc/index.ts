/**
 * `@raftwire/member/webrtc` (browsers and Node): a whole member over WebRTC data channels in one call.
 */
export { createWebRtcMember, type WebRtcMemberOptions } from './create-webrtc-member.js';
export * from '../index.js';
