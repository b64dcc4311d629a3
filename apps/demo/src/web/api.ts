import { type ApiError, type SessionInfo, TOKEN_HEADER } from '../shared/session-api.js';

/** A request to the demo server that was refused or never answered. */
export class ApiFailure extends Error {
  constructor(
    message: string,
    /** HTTP status, 0 when the server could not be reached. */
    readonly status: number,
    /** The server's error code (`session-unknown`, …), '' when it sent none. */
    readonly code: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { cache: 'no-store', ...init });
  } catch (err) {
    throw new ApiFailure(`the demo server did not answer (${err instanceof Error ? err.message : String(err)})`, 0, '');
  }
  if (res.ok) return (await res.json()) as T;
  let body: Partial<ApiError> = {};
  try {
    body = (await res.json()) as Partial<ApiError>;
  } catch {
    // not JSON
  }
  throw new ApiFailure(body.error ?? `the demo server answered HTTP ${res.status}`, res.status, body.code ?? '');
}

/**
 * `POST /api/sessions`: a new cluster with its own Node member, whose clock
 * waits (paused, at `factor`) until the page's members start.
 */
export function createSession(factor: number): Promise<SessionInfo> {
  return call<SessionInfo>('/api/sessions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ factor }),
  });
}

/** The routes of one cluster, with its token. */
export class SessionApi {
  constructor(
    readonly clusterId: string,
    private readonly token: string,
  ) {}

  private path(action: string): string {
    return `/api/sessions/${this.clusterId}/${action}`;
  }

  get<T>(action: string, signal?: AbortSignal): Promise<T> {
    return call<T>(this.path(action), { headers: { [TOKEN_HEADER]: this.token }, ...(signal ? { signal } : {}) });
  }

  post<T>(action: string, body: Record<string, unknown> = {}): Promise<T> {
    return call<T>(this.path(action), {
      method: 'POST',
      headers: { [TOKEN_HEADER]: this.token, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  /** Tells the server the page is leaving; usable from `pagehide` (a beacon cannot set headers: the token is in the body). */
  beacon(action: string): void {
    navigator.sendBeacon(this.path(action), JSON.stringify({ token: this.token }));
  }
}
