import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, RaftwireError, createConsoleLogger, isRaftwireError } from '@raftwire/core';

const T0 = Date.UTC(2026, 10, 21, 21, 40, 0);

function capture(options: Parameters<typeof createConsoleLogger>[0] = {}) {
  const lines: { line: string; level: string }[] = [];
  const logger = createConsoleLogger({ now: () => T0, write: (line, level) => lines.push({ line, level }), ...options });
  return { logger, lines };
}

describe('createConsoleLogger', () => {
  it('writes one readable text line per event at info and above by default, with child bindings', () => {
    const { logger, lines } = capture();
    const child = logger.child({ 'local-member-id': 1n }).child({ 'remote-peer-id': 0xabn });
    child.debug({ x: 1 }, 'hidden');
    child.trace({}, 'hidden too');
    child.info({ note: 'two words', empty: '', n: 3, skipped: undefined }, 'added remote peer');
    child.warn({ err: new RaftwireError(ErrorCode.LINK, 'connection refused') }, 'lost stream');
    child.error({ data: new Uint8Array(5), obj: { id: 2n } }, 'failed');
    expect(lines.map((l) => l.level)).toEqual(['info', 'warn', 'error']);
    expect(lines[0]?.line).toBe(
      '2026-11-21T21:40:00.000Z INFO  added remote peer local-member-id=1 remote-peer-id=ab note="two words" empty="" n=3',
    );
    expect(lines[1]?.line).toBe(
      '2026-11-21T21:40:00.000Z WARN  lost stream local-member-id=1 remote-peer-id=ab err="RaftwireError ERR_LINK: connection refused"',
    );
    expect(lines[2]?.line).toBe(
      '2026-11-21T21:40:00.000Z ERROR failed local-member-id=1 remote-peer-id=ab data="<5 bytes>" obj={"id":"2"}',
    );
  });

  it('writes pino-shaped JSON when asked', () => {
    const { logger, lines } = capture({ format: 'json', level: 'warn', bindings: { app: 'x' } });
    logger.info({}, 'hidden');
    logger.warn({ err: new Error('boom'), id: 10n }, 'lost stream');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]?.line ?? '')).toEqual({
      level: 40,
      time: T0,
      msg: 'lost stream',
      app: 'x',
      err: { type: 'Error', message: 'boom' },
      id: 'a',
    });
  });

  it('silent writes nothing; trace writes everything', () => {
    const silent = capture({ level: 'silent' });
    for (const lv of ['trace', 'debug', 'info', 'warn', 'error'] as const) silent.logger[lv]({}, lv);
    expect(silent.lines).toEqual([]);
    const all = capture({ level: 'trace' });
    for (const lv of ['trace', 'debug', 'info', 'warn', 'error'] as const) all.logger[lv]({}, lv);
    expect(all.lines.map((l) => l.level)).toEqual(['trace', 'debug', 'info', 'warn', 'error']);
  });

  it('goes to the console method of each level by default', () => {
    const spies = {
      debug: vi.spyOn(console, 'debug').mockImplementation(() => {}),
      info: vi.spyOn(console, 'info').mockImplementation(() => {}),
      warn: vi.spyOn(console, 'warn').mockImplementation(() => {}),
      error: vi.spyOn(console, 'error').mockImplementation(() => {}),
    };
    try {
      const logger = createConsoleLogger({ level: 'trace' });
      logger.trace({}, 't');
      logger.debug({}, 'd');
      logger.info({}, 'i');
      logger.warn({}, 'w');
      logger.error({}, 'e');
      expect(spies.debug).toHaveBeenCalledTimes(2);
      expect(spies.info).toHaveBeenCalledTimes(1);
      expect(spies.warn).toHaveBeenCalledTimes(1);
      expect(spies.error).toHaveBeenCalledTimes(1);
      expect(String(spies.error.mock.calls[0]?.[0])).toMatch(/^\S+Z ERROR e$/);
    } finally {
      for (const s of Object.values(spies)) s.mockRestore();
    }
  });

  it('refuses an unknown level or format with ERR_INVALID_ARGUMENT', () => {
    const bad = (o: unknown) => {
      try {
        createConsoleLogger(o as Parameters<typeof createConsoleLogger>[0]);
        return 'no error';
      } catch (err) {
        return isRaftwireError(err, ErrorCode.INVALID_ARGUMENT) ? err.message : String(err);
      }
    };
    expect(bad({ level: 'verbose' })).toMatch(/log level must be one of trace, debug, info, warn, error, silent, not "verbose"/);
    expect(bad({ format: 'xml' })).toMatch(/log format must be text or json, not "xml"/);
  });
});
