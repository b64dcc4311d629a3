import { ErrorCode, RaftwireError } from '@raftwire/core';

/**
 * The optional packages the adapters load only when a feature needs them
 * (they are optional peer dependencies: an HTTP-only user installs none).
 */
export type OptionalPackage = 'simple-peer' | 'node-datachannel' | '@roamhq/wrtc' | 'prom-client';

/**
 * True when `err` says `pkg` itself cannot be found (require's MODULE_NOT_FOUND,
 * import's ERR_MODULE_NOT_FOUND, a bundler's "Failed to resolve"), not when the
 * package was found and failed to load (a native binary that does not fit, say).
 */
function isNotFound(err: unknown, pkg: OptionalPackage): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  const quoted = err.message.includes(`'${pkg}`) || err.message.includes(`"${pkg}`);
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') return quoted;
  // Browsers and bundlers: a bare specifier nobody resolved.
  return quoted && /failed to resolve|cannot find (module|package)|failed to fetch dynamically imported module/i.test(err.message);
}

/** `err` as ERR_MISSING_PACKAGE naming the `npm install` to run, when it says `pkg` is not installed; else `err` unchanged. */
export function asMissingPackage(err: unknown, pkg: OptionalPackage, feature: string): unknown {
  if (!isNotFound(err, pkg)) return err;
  return new RaftwireError(ErrorCode.MISSING_PACKAGE, `${feature} needs the package ${pkg}, which is not installed: npm install ${pkg}`, {
    cause: err,
  });
}

/** Runs a synchronous `require` of an optional package, mapping "not installed" to ERR_MISSING_PACKAGE. */
export function requireOptional<T>(load: () => T, pkg: OptionalPackage, feature: string): T {
  try {
    return load();
  } catch (err) {
    throw asMissingPackage(err, pkg, feature);
  }
}
