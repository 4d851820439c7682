// Types for lockfile.mjs (plain JavaScript, as it runs before node_modules exists), for its tests.
export declare const REGENERATE: string;
export declare const REGENERATE_EXPANDED: string;
export interface NpmRun {
  status: number;
  output: string;
  seconds: number;
}
export declare function runNpm(args: string[], options?: { cwd?: string }): NpmRun;
export interface MissingPackage {
  name: string;
  version: string;
}
export interface CiRefusal {
  outOfSync: boolean;
  missing: MissingPackage[];
  invalid: string[];
}
export declare function parseCiRefusal(output: string): CiRefusal;
interface LockEntry {
  version?: string;
  integrity?: string;
  link?: boolean;
  optionalDependencies?: Record<string, string>;
}
export interface Lockfile {
  packages?: Record<string, LockEntry>;
}
export declare function optionalNames(lock: Lockfile): Set<string>;
export declare function installedTreeDifferences(committed: Lockfile, installed: Lockfile): string[];
export declare function outOfSyncMessage(refusal: CiRefusal, options: { prefix: string }): string;
