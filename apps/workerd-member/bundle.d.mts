/** Bundles `entry` (default: the member Worker, dist/worker.js) into one ES module for workerd at `outfile` (default dist/worker.bundle.js) and returns its path. */
export declare function bundleWorker(entry?: string, outfile?: string): Promise<string>;
