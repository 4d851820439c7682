import { ProvmarkError } from "../../errors.js";

/** When set, sent as `Authorization: Bearer <value>` unless an Authorization header is given. */
export const SUSPECT_TOKEN_ENV = "PROVMARK_SUSPECT_TOKEN";

type Env = Readonly<Record<string, string | undefined>>;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Headers the HTTP client owns. */
const RESERVED = new Set(["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"]);

/**
 * Request headers for a suspect from `--header` flags: `Name: value`, or `Name: env:VAR` to read the
 * value from the environment (so it stays out of shell history and process lists), plus
 * PROVMARK_SUSPECT_TOKEN as a bearer token. Values are secrets: errors name the header and the
 * variable, never the value.
 *
 * @example
 * parseHeaders(["Authorization: env:SUSPECT_AUTH", "X-Team: research"], process.env)
 * // → { Authorization: "<value of $SUSPECT_AUTH>", "X-Team": "research" }
 */
export function parseHeaders(
  list: readonly string[],
  env: Env = process.env,
  subject = "--header",
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, entry] of list.entries()) {
    const colon = entry.indexOf(":");
    const name = colon < 0 ? "" : entry.slice(0, colon).trim();
    if (!TOKEN.test(name)) {
      throw new ProvmarkError("USAGE", `${subject} #${i + 1} is not "Name: value" (or "Name: env:VAR")`, {
        subject,
        hints: ['For example: --header "Authorization: env:SUSPECT_AUTH" with SUSPECT_AUTH="Bearer …" exported.'],
      });
    }
    addHeader(out, name, entry.slice(colon + 1).trim(), env, subject);
  }
  const token = env[SUSPECT_TOKEN_ENV];
  if (token !== undefined && token !== "" && !has(out, "authorization")) {
    checkValue("Authorization", token, subject, SUSPECT_TOKEN_ENV);
    out.Authorization = `Bearer ${token}`;
  }
  return out;
}

/** Adds `name: raw` (resolving `env:VAR`) to `out`, refusing duplicates and client-owned headers. */
export function addHeader(out: Record<string, string>, name: string, raw: string, env: Env, subject: string): void {
  if (!TOKEN.test(name))
    throw new ProvmarkError("USAGE", `${JSON.stringify(name)} is not a valid header name`, { subject });
  if (RESERVED.has(name.toLowerCase())) {
    throw new ProvmarkError("USAGE", `the ${name} header is set by the HTTP client and cannot be given`, { subject });
  }
  if (has(out, name.toLowerCase())) throw new ProvmarkError("USAGE", `the ${name} header is given twice`, { subject });
  let value = raw;
  let from: string | undefined;
  if (raw.startsWith("env:")) {
    from = raw.slice(4).trim();
    if (!VAR.test(from)) {
      throw new ProvmarkError("USAGE", `header ${name}: ${JSON.stringify(from)} is not an environment variable name`, {
        subject,
      });
    }
    const v = env[from];
    if (v === undefined || v === "") {
      throw new ProvmarkError("USAGE", `header ${name}: the environment variable ${from} is not set`, {
        subject,
        hints: [`export ${from}=… before running, or give the value directly.`],
      });
    }
    value = v;
  }
  checkValue(name, value, subject, from);
  out[name] = value;
}

function checkValue(name: string, value: string, subject: string, from: string | undefined): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
    const where = from === undefined ? "" : ` (from ${from})`;
    throw new ProvmarkError("USAGE", `header ${name}'s value${where} contains a line break or control character`, {
      subject,
    });
  }
}

function has(h: Record<string, string>, lower: string): boolean {
  return Object.keys(h).some((k) => k.toLowerCase() === lower);
}

const SENSITIVE = /auth|key|token|secret|cookie|session|pass|signature|credential/i;

/**
 * The header values to redact from failure details and stored response bodies: every value of a
 * header whose name looks sensitive, and any other value of 8 characters or more (short values like
 * `X-Version: v1` are left alone, so they cannot mangle an answer that happens to contain them).
 */
export function secretValues(headers: Readonly<Record<string, string>>): string[] {
  return Object.entries(headers)
    .filter(([name, value]) => value.length >= 8 || (SENSITIVE.test(name) && value.length >= 3))
    .map(([, value]) => value)
    .sort((a, b) => b.length - a.length);
}
