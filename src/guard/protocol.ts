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

/** What the guard fronts: one protocol, or `provmark serve` (TF Serving, KServe and `:classify` on one port). */
export type GuardMode = GuardProtocol | "provmark-serve";

/** The protocol of a prediction request, or undefined when it is not one. */
export function predictProtocol(mode: GuardMode, method: string, path: string): GuardProtocol | undefined {
  if (mode !== "provmark-serve") return isPredictRoute(mode, method, path) ? mode : undefined;
  if (isPredictRoute("tfserving", method, path)) return "tfserving";
  if (isPredictRoute("kserve", method, path)) return "kserve";
  if (method === "POST" && /^\/v1\/models\/[^/]+(\/versions\/[^/]+)?:classify\/?$/.test(path)) return "raw";
  return undefined;
}

export function isInfo(mode: GuardMode, method: string, path: string): boolean {
  return mode === "provmark-serve"
    ? isInfoRoute("tfserving", method, path) || isInfoRoute("kserve", method, path)
    : isInfoRoute(mode, method, path);
}
