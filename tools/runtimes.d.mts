export type ScriptRuntime = 'node' | 'deno' | 'bun';
export declare const OTHER_RUNTIMES: readonly string[];
/** Absolute path of a runtime's binary inside its package in the root node_modules (not the .bin shim). */
export declare function runtimeBinary(name: string): string;
/** The runtime's version line; throws, saying what is missing, when it cannot start. */
export declare function requireRuntime(name: string): string;
/** The command that runs `script` with `args` on `name`. */
export declare function runtimeCommand(name: ScriptRuntime, script: string, args?: readonly string[]): { command: string; args: string[] };
