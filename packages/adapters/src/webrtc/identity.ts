import { ErrorCode, RaftwireError, formatId } from '@raftwire/core';
import type { Id } from '@raftwire/core';

/**
 * Member identity for WebRTC (docs/webrtc.md "Security"). Isomorphic: WebCrypto
 * (`crypto.subtle`) only, so it runs in Node 20, Chromium, Deno and workers.
 *
 * Two mechanisms:
 * - a **signalling credential**: HMAC-SHA-256 of the cluster and member ID under
 *   the relay's key, shown when joining the relay (an outsider cannot join, so
 *   never sees anyone's offers);
 * - an **identity key pair** (ECDSA P-256) per member: every offer and answer
 *   carries a signature over (cluster, from, to, session, SDP type, the SDP's
 *   DTLS `a=fingerprint` lines, a timestamp and a nonce). The receiver checks it
 *   against the sender's configured public key and that the SDP it is about to
 *   apply has exactly the signed fingerprint, so a relay (or anyone on the
 *   signalling path) cannot substitute its own DTLS certificate and sit in the
 *   middle.
 */

/** This member's signing key and the public keys of the members it will talk to. */
export interface WebRtcIdentity {
  /** ECDSA P-256 private key (`sign` usage) of this member. */
  privateKey: CryptoKey;
  /** ECDSA P-256 public keys (`verify` usage) of the other members, by member ID. */
  publicKeys: ReadonlyMap<Id, CryptoKey>;
}

/** The authentication carried by an offer or answer (field `auth` of a SignalMessage). */
export interface SignalAuth {
  /** The DTLS fingerprints of the SDP, normalised (see {@link sdpFingerprints}). */
  fp: string;
  /** Sender's Date.now() when it signed. */
  ts: number;
  /** 16 random bytes, base64url; never accepted twice from one sender. */
  nonce: string;
  /** ECDSA P-256 / SHA-256 signature (IEEE P1363 r‖s), base64url. */
  sig: string;
}

/** How far a signed offer's timestamp may be from the receiver's clock. */
export const SIGNAL_AUTH_MAX_SKEW_MS = 5 * 60_000;

const ECDSA: EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const HMAC: HmacImportParams = { name: 'HMAC', hash: 'SHA-256' };
const enc = new TextEncoder();

function subtle(): SubtleCrypto {
  const s = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (s === undefined) {
    throw new RaftwireError(
      ErrorCode.INVALID_ARGUMENT,
      'WebRTC identity needs WebCrypto (crypto.subtle): a secure context in browsers, Node ≥ 20',
    );
  }
  return s;
}

export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new RaftwireError(ErrorCode.DECODE, 'not base64url');
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A fresh identity key pair (extractable, so its public half can be handed to the other members). */
export async function generateIdentityKeyPair(): Promise<CryptoKeyPair> {
  return (await subtle().generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** Exports an identity key (public or private) as a JWK, to store or hand to another process or page. */
export async function exportIdentityKey(key: CryptoKey): Promise<JsonWebKey> {
  return subtle().exportKey('jwk', key);
}

/** Imports a JWK made by {@link exportIdentityKey}: a private key (has `d`) for signing, else a public key. */
export async function importIdentityKey(jwk: JsonWebKey): Promise<CryptoKey> {
  const isPrivate = typeof jwk.d === 'string';
  try {
    return await subtle().importKey('jwk', jwk, ECDSA, false, isPrivate ? ['sign'] : ['verify']);
  } catch (err) {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `not an ECDSA P-256 JWK: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/** A fresh 32-byte relay key. */
export function generateRelayKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

function relayPayload(clusterId: Id, memberId: Id): Uint8Array {
  return enc.encode(`raftwire-signal-join-v1\n${formatId(clusterId)}\n${formatId(memberId)}`);
}

async function hmacKey(relayKey: Uint8Array): Promise<CryptoKey> {
  if (!(relayKey instanceof Uint8Array) || relayKey.length < 16) {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'relayKey must be a Uint8Array of at least 16 bytes');
  }
  return subtle().importKey('raw', relayKey as Uint8Array<ArrayBuffer>, HMAC, false, ['sign', 'verify']);
}

/**
 * The credential member `memberId` shows to join the relay of `clusterId`:
 * base64url(HMAC-SHA-256(relayKey, "raftwire-signal-join-v1\n<cluster>\n<member>")).
 * Whoever holds the relay key (the relay, and whoever provisions members) mints them.
 */
export async function signalingCredential(relayKey: Uint8Array, clusterId: Id, memberId: Id): Promise<string> {
  const mac = await subtle().sign('HMAC', await hmacKey(relayKey), relayPayload(clusterId, memberId) as Uint8Array<ArrayBuffer>);
  return toBase64Url(new Uint8Array(mac));
}

/** A verifier for join credentials under one relay key (constant-time, by WebCrypto). */
export async function credentialVerifier(
  relayKey: Uint8Array,
): Promise<(clusterId: Id, memberId: Id, credential: string) => Promise<boolean>> {
  const key = await hmacKey(relayKey);
  return async (clusterId, memberId, credential) => {
    let mac: Uint8Array;
    try {
      mac = fromBase64Url(credential);
    } catch {
      return false;
    }
    if (mac.length !== 32) return false;
    return subtle().verify('HMAC', key, mac as Uint8Array<ArrayBuffer>, relayPayload(clusterId, memberId) as Uint8Array<ArrayBuffer>);
  };
}

/**
 * The DTLS fingerprints an SDP declares (every `a=fingerprint:` line, session or
 * media level), normalised: `<hash> <HEX>` each, sorted, unique, joined by `,`.
 * `''` when there is none.
 */
export function sdpFingerprints(sdp: string): string {
  const out = new Set<string>();
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^a=fingerprint:\s*(\S+)\s+([0-9A-Fa-f:]+)\s*$/.exec(line);
    if (m) out.add(`${(m[1] as string).toLowerCase()} ${(m[2] as string).toUpperCase()}`);
  }
  return [...out].sort().join(',');
}

export interface SignedSdpFields {
  clusterId: string;
  from: string;
  to: string;
  session: string;
  /** `offer` or `answer`. */
  type: string;
}

function authPayload(f: SignedSdpFields, fp: string, ts: number, nonce: string): Uint8Array {
  return enc.encode(['raftwire-webrtc-sdp-v1', f.clusterId, f.from, f.to, f.session, f.type, fp, String(ts), nonce].join('\n'));
}

/** Signs an offer or answer's fingerprint for `f.to`. */
export async function signSdp(privateKey: CryptoKey, f: SignedSdpFields, sdp: string): Promise<SignalAuth> {
  const fp = sdpFingerprints(sdp);
  const ts = Date.now();
  const nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
  const sig = await subtle().sign(SIGN, privateKey, authPayload(f, fp, ts, nonce) as Uint8Array<ArrayBuffer>);
  return { fp, ts, nonce, sig: toBase64Url(new Uint8Array(sig)) };
}

/**
 * Checks an offer or answer against the sender's public key. Throws
 * ERR_SIGNAL_REJECTED saying why: no signature, bad signature, stale
 * timestamp, or an SDP whose fingerprint is not the signed one. Replays are
 * the caller's (it keeps the nonces it has seen: {@link NonceCache}).
 */
export async function verifySdp(
  publicKey: CryptoKey | undefined,
  f: SignedSdpFields,
  sdp: string,
  auth: SignalAuth | undefined,
  now = Date.now(),
): Promise<void> {
  const reject = (why: string): never => {
    throw new RaftwireError(ErrorCode.SIGNAL_REJECTED, `${f.type} from member ${f.from} refused: ${why}`);
  };
  if (publicKey === undefined) reject('no public key is configured for that member');
  if (auth === undefined) reject('it carries no identity signature');
  const a = auth as SignalAuth;
  if (Math.abs(now - a.ts) > SIGNAL_AUTH_MAX_SKEW_MS) reject(`its timestamp is ${Math.round((now - a.ts) / 1000)} s off`);
  let sig: Uint8Array;
  try {
    sig = fromBase64Url(a.sig);
  } catch {
    return reject('its signature is not base64url');
  }
  const ok = await subtle().verify(
    SIGN,
    publicKey as CryptoKey,
    sig as Uint8Array<ArrayBuffer>,
    authPayload(f, a.fp, a.ts, a.nonce) as Uint8Array<ArrayBuffer>,
  );
  if (!ok) reject("its signature does not verify with that member's public key");
  if (a.fp === '') reject('it signs no DTLS fingerprint');
  const actual = sdpFingerprints(sdp);
  if (actual !== a.fp)
    reject(`the SDP's DTLS fingerprint (${actual || 'none'}) is not the one the member signed (${a.fp}): a man in the middle?`);
}

/** Nonces seen per sender, remembered for the skew window (then the timestamp check refuses a replay). */
export class NonceCache {
  private readonly seen = new Map<string, number>();

  /** True (and remembers it) the first time `nonce` is seen; false for a replay. */
  add(sender: string, nonce: string, ts: number, now = Date.now()): boolean {
    if (this.seen.size > 4096) {
      for (const [k, t] of this.seen) if (now - t > 2 * SIGNAL_AUTH_MAX_SKEW_MS) this.seen.delete(k);
    }
    const key = `${sender}/${nonce}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, ts);
    return true;
  }
}

export function isSignalAuth(v: unknown): v is SignalAuth {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.fp === 'string' &&
    r.fp.length <= 1024 &&
    typeof r.ts === 'number' &&
    Number.isSafeInteger(r.ts) &&
    typeof r.nonce === 'string' &&
    /^[A-Za-z0-9_-]{16,64}$/.test(r.nonce) &&
    typeof r.sig === 'string' &&
    r.sig.length <= 256
  );
}
