// Types for node22.mjs (plain JavaScript, as it runs on any Node before anything is installed).
export declare const PINNED: Readonly<{ node: string; npm: string }>;
export declare const MIN_NODE: string;
export declare function cacheRoot(): string;
export declare function cacheDir(): string;
export declare function pinnedNodePath(): string;
export declare function ensureNode22BinDir(options?: { quiet?: boolean }): string;
export declare function nodeBinaryPackage(platform?: string, arch?: string): string;
