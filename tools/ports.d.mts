/** Lowest port handed out. */
export declare const MIN_PORT: number;
/** The kernel's range for the local ports of outgoing connections, [low, high]. */
export declare function ephemeralRange(): [number, number];
/** The first port of a block of `count` ports for `r` in [0, 1), the block in [MIN_PORT, ephemeralLow). */
export declare function portBlockCandidate(count: number, r: number, ephemeralLow?: number): number;
/** `count` consecutive free ports on 127.0.0.1 below the ephemeral range; the first of them. */
export declare function freePortBlock(count: number): Promise<number>;
/** One free port on 127.0.0.1 below the ephemeral range (never the same twice in a process). */
export declare function freePort(): Promise<number>;
