import type { ArtifactStore } from "./artifact-store.js";

export type StoreSettings =
  | { mode: "embedded"; blockstoreDir: string }
  | { mode: "kubo"; apiUrl: string; timeoutMs?: number };

/**
 * Opens the store the settings name. The implementation is imported only here, when needed: Helia
 * alone takes over a second to load, which `provmark --help` must not pay.
 *
 * @example const store = await openStore({ mode: "embedded", blockstoreDir: "/home/me/.provmark/ipfs" })
 */
export async function openStore(settings: StoreSettings): Promise<ArtifactStore> {
  if (settings.mode === "kubo") {
    const { openKuboStore } = await import("./kubo-store.js");
    return openKuboStore(settings.apiUrl, settings.timeoutMs === undefined ? {} : { timeoutMs: settings.timeoutMs });
  }
  const { openHeliaStore } = await import("./helia-store.js");
  return openHeliaStore(settings.blockstoreDir);
}
