export declare const ROOT: string;
export declare const WORK: string;
export declare const NPM_CACHE: string;
export declare const PAGE_DEPENDENCIES: Readonly<Record<string, string>>;

export interface PublicPackage {
  dir: string;
  name: string;
  version: string;
}
export interface PackedPackage extends PublicPackage {
  tarball: string;
}
export declare function publicPackages(): PublicPackage[];
/** One line per problem, each naming the package. */
export declare function checkPackage(pkgDir: string, pkg: PublicPackage, rootPkg: unknown, license: string): string[];
export declare function packAll(outDir: string): Promise<PackedPackage[]>;
export declare function checkAll(packed: PackedPackage[], outDir: string): string[];
export declare function npmInstall(
  project: string,
  packed: PackedPackage[],
  options?: { offline?: boolean; extra?: Readonly<Record<string, string>> },
): { output: string; args: string[] };
export declare function prepareConsumer(options?: { offline?: boolean }): Promise<{
  dir: string;
  project: string;
  packed: PackedPackage[];
  problems: string[];
  install(): { output: string; args: string[] };
}>;
