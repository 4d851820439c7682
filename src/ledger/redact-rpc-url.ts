/**
 * RPC providers put API keys in the URL: in the path (Infura `/v3/<key>`, Alchemy `/v2/<key>`,
 * Ankr `/eth/<key>`, QuickNode `/<token>/`), in the query (`?apikey=`) or as userinfo. Every RPC URL
 * provmark shows or stores (messages, `--json`, reports, deployment output) goes through
 * `redactRpcUrl`, and every error text from the RPC layer through `redactUrlsIn`. The parts it
 * redacts are remembered for the life of the process, so a key a server echoes back in an error body
 * (without the URL around it) is caught too (`scrubRpcSecrets`, also applied to every CLI error).
 */

/** A path segment kept as is: a short word with at most two trailing digits (`v3`, `mainnet`, `arbitrum-sepolia`). */
const PLAIN_SEGMENT = /^[A-Za-z][A-Za-z-]{0,15}[0-9]{0,2}$/;

const REDACTED = "[redacted]";

/** Secret parts of the RPC URLs seen so far; shorter ones would mangle ordinary text. */
const seen = new Set<string>();
const remember = (part: string) => {
  if (part.length >= 6) seen.add(part);
};

/**
 * The URL with its credentials replaced: userinfo dropped, the query and any path segment that is
 * not a plain word shown as `[redacted]`.
 *
 * @example
 * redactRpcUrl("https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161") // "https://mainnet.infura.io/v3/[redacted]"
 * redactRpcUrl("https://rpc.example/?apikey=abc") // "https://rpc.example/?[redacted]"
 */
export function redactRpcUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "<invalid url>";
  }
  for (const part of [u.username, u.password, decodeURIComponent(u.password), u.search.slice(1)]) remember(part);
  for (const v of u.searchParams.values()) remember(v);
  const path = u.pathname
    .split("/")
    .map((s) => {
      if (s === "" || PLAIN_SEGMENT.test(s)) return s;
      remember(s);
      return REDACTED;
    })
    .join("/");
  const query = u.search === "" ? "" : `?${REDACTED}`;
  return `${u.protocol}//${u.host}${path === "/" ? "" : path}${query}`;
}

const URL_IN_TEXT = /\b(?:https?|wss?):\/\/[^\s"'`<>()[\]{},]+/gi;

/** `text` with every URL in it redacted (error messages of ethers and fetch quote the request URL). */
export function redactUrlsIn(text: string): string {
  return scrubRpcSecrets(text.replace(URL_IN_TEXT, (m) => redactRpcUrl(m)));
}

/** `text` with every secret part of an RPC URL redacted so far replaced, wherever it appears. */
export function scrubRpcSecrets(text: string): string {
  let out = text;
  for (const s of [...seen].sort((a, b) => b.length - a.length)) out = out.split(s).join(REDACTED);
  return out;
}
