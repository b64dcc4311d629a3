import { candidateAddress, isLoopbackAddress } from '../shared/loopback-signaling.js';
import { chromiumCommand } from '../shared/session-api.js';

/**
 * Whether this page can gather a loopback (127.0.0.1 / ::1) ICE candidate:
 * the only kind the demo's members accept. Chromium gathers one only when it
 * was started with `--allow-loopback-in-peer-connection` and the page has
 * media permission; other browsers have their own switch. Resolves within
 * `timeoutMs`.
 */
export async function canGatherLoopback(timeoutMs = 3000): Promise<boolean> {
  if (typeof RTCPeerConnection === 'undefined') return false;
  const pc = new RTCPeerConnection({ iceServers: [] });
  try {
    pc.createDataChannel('probe');
    const found = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      pc.addEventListener('icecandidate', (e) => {
        if (e.candidate === null) {
          clearTimeout(timer);
          resolve(false);
          return;
        }
        const addr = e.candidate.address ?? candidateAddress(e.candidate.candidate);
        if (addr !== undefined && addr !== null && isLoopbackAddress(addr)) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    await pc.setLocalDescription(await pc.createOffer());
    return await found;
  } finally {
    pc.close();
  }
}

/** The media permission state, or 'unknown' where the browser cannot tell. */
export async function mediaPermission(): Promise<PermissionState | 'unknown'> {
  try {
    return (await navigator.permissions.query({ name: 'microphone' as PermissionName })).state;
  } catch {
    return 'unknown';
  }
}

/** Asks for media permission (microphone, else camera) and stops the track at once: nothing is recorded. */
export async function requestMediaPermission(): Promise<void> {
  let first: unknown;
  for (const constraints of [{ audio: true }, { video: true }] as MediaStreamConstraints[]) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(constraints);
      for (const t of stream.getTracks()) t.stop();
      return;
    } catch (err) {
      first ??= err;
      // With no such device, try the other kind; a refusal is final.
      if (!(err instanceof DOMException && (err.name === 'NotFoundError' || err.name === 'OverconstrainedError'))) break;
    }
  }
  throw first;
}

export const isChromium = typeof navigator !== 'undefined' && /Chrome\//.test(navigator.userAgent);

/** What to tell the person when this browser cannot gather loopback candidates, by cause. */
export function loopbackAdvice(cause: 'no-flag' | 'no-device' | 'refused' | 'other-browser', url: string, detail = ''): string {
  switch (cause) {
    case 'no-flag':
      return `This Chromium gives the page no 127.0.0.1 WebRTC address even with media permission: it was started without --allow-loopback-in-peer-connection. Close it and start it with: ${chromiumCommand(url)}`;
    case 'no-device':
      return `Chromium shows 127.0.0.1 WebRTC addresses only to a page with microphone or camera permission, and this machine has neither device${detail ? ` (${detail})` : ''}. Start Chromium with a fake device (nothing is recorded): ${chromiumCommand(url)}`;
    case 'refused':
      return `Media permission was refused${detail ? ` (${detail})` : ''}. Chromium shows 127.0.0.1 WebRTC addresses only to a page that has it (the microphone is never used: the track is stopped at once). Allow the microphone for this site in the address bar's site settings and reload, or start Chromium with: ${chromiumCommand(url)}`;
    case 'other-browser':
      return `This browser gives the page no 127.0.0.1 WebRTC address, and the demo keeps all traffic on loopback. In Firefox set media.peerconnection.ice.loopback to true in about:config and reload; or open the demo in Chromium: ${chromiumCommand(url)}`;
  }
}
