export declare const CHROMIUM_PATH: string;
/** Throws, saying what to install, when Debian's chromium is missing. */
export declare function requireChromium(): void;
export declare const CHROMIUM_ARGS: readonly string[];
export declare const CHROMIUM_WEBRTC_ARGS: readonly string[];
export declare const CHROMIUM_WEBRTC_PERMISSIONS: readonly string[];
