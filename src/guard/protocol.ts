/** Which upstream API the guard fronts, and which of its requests are predictions. */
export const GUARD_PROTOCOLS = ["tfserving", "kserve", "json", "raw"] as const;
export type GuardProtocol = (typeof GUARD_PROTOCOLS)[number];

/** Whether `method path` asks the upstream for predictions (answers pass the hooks). */
export function isPredictRoute(protocol: GuardProtocol, method: string, path: string): boolean {
  if (method !== "POST") return false;
  if (protocol === "tfserving") return /^\/v1\/models\/[^/]+(\/versions\/[^/]+)?:predict\/?$/.test(path);
  if (protocol === "kserve") return /^\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer\/?$/.test(path);
  return true;
}

/** Read-only routes any authenticated role may use (status, metadata, health). */
export function isInfoRoute(protocol: GuardProtocol, method: string, path: string): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  if (protocol === "tfserving") return /^\/v1\/models\/[^/:]+(\/versions\/[^/]+)?(\/metadata)?\/?$/.test(path);
  if (protocol === "kserve")
    return /^\/v2(\/health\/(live|ready)|\/models\/[^/]+(\/versions\/[^/]+)?(\/ready)?)?\/?$/.test(path);
  return false;
}
