export declare const CHROMIUM_PATH: string;
export declare const CHROMIUM_ARGS: readonly string[];
export declare const CHROMIUM_WEBRTC_ARGS: readonly string[];
export declare const CHROMIUM_WEBRTC_PERMISSIONS: readonly string[];
