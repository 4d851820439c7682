import { ProvmarkError } from "../../errors.js";

/**
 * Validates an endpoint flag: an absolute http(s) URL without credentials (they go in headers, so
 * they never reach reports). A query string is allowed (some APIs want keys there) but is never shown.
 */
export function parseEndpoint(value: string, flag: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ProvmarkError("USAGE", `${flag} must be an http(s) URL`, {
      subject: flag,
      hints: ["For example: --endpoint http://127.0.0.1:8501 (TF Serving) or https://host/v2 (KServe)."],
    });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ProvmarkError("USAGE", `${flag} must use http or https, got ${u.protocol}`, { subject: flag });
  }
  if (u.username !== "" || u.password !== "") {
    throw new ProvmarkError("USAGE", `${flag} must not hold credentials (user:password@)`, {
      subject: flag,
      hints: ['Pass them as a header instead: --header "Authorization: env:SUSPECT_AUTH" (read from the environment).'],
    });
  }
  return u;
}

/** The URL without credentials or query, for reports and messages. */
export function displayTarget(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
}

/** Appends a path suffix to a URL's path, keeping its query string. */
export function appendPath(u: URL, suffix: string): URL {
  const out = new URL(u);
  out.pathname = `${u.pathname.replace(/\/+$/, "")}${suffix}`;
  return out;
}
