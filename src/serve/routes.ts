/** URL routing of the model server: which API, which resource, which model and version. */

export type Route =
  | { api: "tfs"; kind: "status" | "metadata" | "predict" | "classify"; name: string; version?: string }
  | { api: "v2"; kind: "server" | "live" | "ready" }
  | { api: "v2"; kind: "model" | "modelReady" | "infer"; name: string; version?: string };

/** The HTTP methods each kind of route answers. */
export function allowedMethods(route: Route): readonly string[] {
  return route.kind === "predict" || route.kind === "infer" || route.kind === "classify" ? ["POST"] : ["GET", "HEAD"];
}

const segment = (s: string): string | undefined => {
  try {
    const d = decodeURIComponent(s);
    return d === "" ? undefined : d;
  } catch {
    return undefined;
  }
};

/** `/v1/models/{name}[/versions/{v}][/metadata | :predict | :classify]` (`:classify` takes image bytes) */
function tfServingRoute(rest: readonly string[]): Route | undefined {
  const last = rest.at(-1) ?? "";
  const colon = last.indexOf(":");
  const verb = colon < 0 ? undefined : last.slice(colon + 1);
  const parts = colon < 0 ? [...rest] : [...rest.slice(0, -1), last.slice(0, colon)];
  const name = segment(parts[0] ?? "");
  if (name === undefined) return undefined;
  let i = 1;
  let version: string | undefined;
  if (parts[i] === "versions") {
    version = segment(parts[i + 1] ?? "");
    if (version === undefined) return undefined;
    i += 2;
  }
  const tail = parts.slice(i);
  const at = version === undefined ? { name } : { name, version };
  if (verb !== undefined) {
    if (tail.length !== 0) return undefined;
    if (verb === "predict") return { api: "tfs", kind: "predict", ...at };
    if (verb === "classify") return { api: "tfs", kind: "classify", ...at };
    return undefined;
  }
  if (tail.length === 0) return { api: "tfs", kind: "status", ...at };
  if (tail.length === 1 && tail[0] === "metadata") return { api: "tfs", kind: "metadata", ...at };
  return undefined;
}

/** `/v2`, `/v2/health/{live,ready}`, `/v2/models/{name}[/versions/{v}][/ready | /infer]` */
function v2Route(rest: readonly string[]): Route | undefined {
  if (rest.length === 0) return { api: "v2", kind: "server" };
  if (rest[0] === "health" && rest.length === 2) {
    if (rest[1] === "live") return { api: "v2", kind: "live" };
    if (rest[1] === "ready") return { api: "v2", kind: "ready" };
    return undefined;
  }
  if (rest[0] !== "models") return undefined;
  const name = segment(rest[1] ?? "");
  if (name === undefined) return undefined;
  let i = 2;
  let version: string | undefined;
  if (rest[i] === "versions") {
    version = segment(rest[i + 1] ?? "");
    if (version === undefined) return undefined;
    i += 2;
  }
  const tail = rest.slice(i);
  const at = version === undefined ? { name } : { name, version };
  if (tail.length === 0) return { api: "v2", kind: "model", ...at };
  if (tail.length === 1 && tail[0] === "ready") return { api: "v2", kind: "modelReady", ...at };
  if (tail.length === 1 && tail[0] === "infer") return { api: "v2", kind: "infer", ...at };
  return undefined;
}

/** The route of a request path (query string already removed; one trailing slash is ignored). */
export function matchRoute(path: string): Route | undefined {
  const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  const parts = trimmed.split("/").slice(1);
  if (parts[0] === "v1" && parts[1] === "models") return tfServingRoute(parts.slice(2));
  if (parts[0] === "v2") return v2Route(parts.slice(1));
  return undefined;
}
