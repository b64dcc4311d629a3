/** Bundles the member Worker into one ES module for workerd and returns its path (dist/worker.bundle.js). */
export declare function bundleWorker(): Promise<string>;
