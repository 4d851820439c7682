/**
 * `npm run demo:teachable`: "my model, my data" end to end through the real CLI, on the Teachable
 * Machine image export in test/fixtures (nested MobileNetV2 α 0.35 at 224×224×3, pixel/127 - 1, two
 * classes) and its own 22 training images: key planned from the model → both marks embedded from
 * the 22 images → verified → the original and the marked release registered (with lineage) → a
 * thief serves a copy behind TF Serving REST taking PNG images, and publishes another as a web
 * app's static model.json → both detected (the second white-box too), the unmarked original not →
 * the evidence re-checked without the key against the chain.
 * Writes only under the data dir ($PROVMARK_HOME or ~/.provmark)/demo-teachable, started afresh.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, createReadStream, existsSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { dataDir } from "../src/config.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "bin/provmark.mjs");
const original = join(root, "test/fixtures/teachable-machine/image-model");
const images = `images:${join(root, "test/fixtures/teachable-machine/training-images")}`;
const dir = join(dataDir(), "demo-teachable");
const key = join(dir, "teachable.key");
const marked = join(dir, "teachable-marked");
const webapp = join(dir, "thief-webapp");
const ledger = join(dir, "ledger");
// The demo's key is throwaway; real keys take the passphrase from a secret store or the prompt.
const env = { ...process.env, PROVMARK_PASSPHRASE: process.env.PROVMARK_PASSPHRASE || "provmark-demo-passphrase" };
const STEPS = 15;

/** Runs one CLI step; asynchronous, so the demo's own static web host keeps answering meanwhile. */
async function step(
  n: number,
  title: string,
  args: string[],
  opts: { json?: boolean; exit?: number; quiet?: boolean } = {},
): Promise<unknown> {
  if (!opts.quiet) process.stdout.write(`\n[${n}/${STEPS}] ${title}\n$ provmark ${args.join(" ")}\n`);
  const child = spawn(process.execPath, [bin, ...args, ...(opts.json ? ["--json"] : [])], {
    stdio: ["ignore", opts.json ? "pipe" : "inherit", "inherit"],
    env,
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  const status = await new Promise<number | null>((ok) => child.once("close", ok));
  if (status !== (opts.exit ?? 0)) {
    if (opts.json && out) process.stdout.write(out);
    process.stderr.write(`demo:teachable: step ${n} failed (exit ${status})\n`);
    process.exit(status === 0 ? 1 : (status ?? 1));
  }
  return opts.json ? JSON.parse(out) : undefined;
}

const servers: ChildProcess[] = [];
process.on("exit", () => {
  for (const s of servers) s.kill();
});

/** Starts `provmark serve` in the background and returns its base URL once it listens. */
async function serve(model: string, name: string): Promise<string> {
  const child = spawn(process.execPath, [bin, "serve", "--model", model, "--port", "0", "--name", name, "--json"], {
    stdio: ["ignore", "pipe", "inherit"],
    env,
  });
  servers.push(child);
  const line = await new Promise<string>((ok, fail) => {
    let buf = "";
    child.stdout?.on("data", (d) => {
      buf += d;
      if (buf.includes("\n")) ok(buf.slice(0, buf.indexOf("\n")));
    });
    child.once("exit", (code) => fail(new Error(`provmark serve exited with ${code}`)));
  });
  return (JSON.parse(line) as { url: string }).url;
}

/** A loopback static web host over `site`, as the thief's web app would be served. */
async function staticHost(site: string): Promise<{ url: string; close: () => void }> {
  const types: Record<string, string> = { ".json": "application/json", ".bin": "application/octet-stream" };
  const server = createServer((req, res) => {
    const path = normalize(join(site, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)));
    if (!path.startsWith(resolve(site) + sep) || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const ext = path.slice(path.lastIndexOf("."));
    res.writeHead(200, { "content-type": types[ext] ?? "application/octet-stream" });
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

const started = performance.now();
rmSync(dir, { recursive: true, force: true });
await step(1, "What the Teachable Machine export is: nested layers, input, preprocessing, classes", [
  "inspect",
  original,
]);
await step(
  2,
  "Plan a key from the model and its images: carrier layer, trigger count for 2 classes, input description",
  ["keygen", "--model", original, "--dataset", images, "--out", key],
);
const embedded = (await step(
  3,
  "Embed both marks from the 22 training images (augmented views, teacher targets from the original)",
  ["embed", "--model", original, "--key", key, "--dataset", images, "--out", marked],
  { json: true },
)) as { agreement: number; heldOut: number; triggerAccuracy: number; bitErrors: number; embedSeconds: number };
process.stdout.write(
  `agreement with the original ${(embedded.agreement * 100).toFixed(1)}% on ${embedded.heldOut} held-out views, ` +
    `triggers ${(embedded.triggerAccuracy * 100).toFixed(1)}%, ${embedded.bitErrors} bit errors, ` +
    `${embedded.embedSeconds.toFixed(0)} s\n`,
);
await step(4, "Verify the marked model (exit 0: watermarked)", ["verify", "--model", marked, "--key", key]);
await step(5, "Verify the original export (exit 3: not detected)", ["verify", "--model", original, "--key", key], {
  exit: 3,
});
const onLedger = ["--data-dir", ledger];
const root0 = (await step(
  6,
  "Register the original export as a root version (embedded chain + IPFS store)",
  [...onLedger, "register", "--model", original, "--name", "teachable-classifier", "--version", "0.9.0-original"],
  { json: true },
)) as { digest: string; owner: string };
const owner = root0.owner;
await step(7, "Register the watermarked release, child of the original", [
  ...onLedger,
  "register",
  "--model",
  marked,
  "--name",
  "teachable-classifier",
  "--version",
  "1.0.0",
  "--parent",
  root0.digest,
  "--training-data",
  "test/fixtures/teachable-machine/training-images (22 images)",
]);
await step(8, "Check the release against the chain and its manifest, as this owner's", [
  ...onLedger,
  "check",
  marked,
  "--manifest",
  "--owner",
  owner,
]);

process.stdout.write(
  `\n[9/${STEPS}] A thief serves a copy (TF Serving REST, PNG images in), another party the original\n`,
);
const thief = await serve(marked, "flowers");
const innocent = await serve(original, "flowers");
process.stdout.write(`thief's API:   ${thief}\nother API:     ${innocent}\n`);
process.stdout.write(
  `\n[10/${STEPS}] The thief also ships the model in a web app: a static model.json and its shards\n`,
);
cpSync(marked, join(webapp, "model"), { recursive: true });
const site = await staticHost(webapp);
const webModel = `${site.url}/model/model.json`;
process.stdout.write(`thief's web app model: ${webModel}\n`);

const markedDigest = ((await step(0, "", ["hash", marked], { json: true, quiet: true })) as { filesDigest: string })
  .filesDigest;
const detect = (endpoint: string, report: string, how: string[]) => [
  ...onLedger,
  "detect",
  "--endpoint",
  endpoint,
  ...how,
  "--decoys",
  images,
  "--key",
  key,
  "--digest",
  markedDigest,
  "--owner",
  owner,
  "--report",
  join(dir, report),
];
type Detected = { verdict: string; matches: number; n: number; pValue: number; log10PValue: number };
const png = ["--protocol", "tfserving", "--model-name", "flowers", "--encoding", "png"];
const a = (await step(
  11,
  "Detect the thief's API: PNG triggers hidden among the owner's images as decoys",
  detect(thief, "report-api", png),
  { json: true },
)) as Detected;
const w = (await step(
  12,
  "Detect the thief's web app: fetch model.json and shards, test the weight mark and the triggers locally",
  detect(webModel, "report-webapp", ["--protocol", "url"]),
  { json: true },
)) as Detected;
const b = (await step(
  13,
  "Detect the other API, serving the unmarked original (exit 3)",
  detect(innocent, "report-other", png),
  {
    json: true,
    exit: 3,
  },
)) as Detected;
for (const s of servers) s.kill();
site.close();
await step(14, "Anyone re-checks the API evidence without the key, against the chain", [
  ...onLedger,
  "evidence",
  "verify",
  join(dir, "report-api"),
  "--chain",
]);
await step(15, "… and the web app evidence (every fetched byte's hash, both tests)", [
  ...onLedger,
  "evidence",
  "verify",
  join(dir, "report-webapp"),
  "--chain",
]);
const p = (d: Detected) => (d.pValue === 0 ? `1e${d.log10PValue.toFixed(1)}` : d.pValue.toExponential(2));
const line = (what: string, d: Detected) =>
  `  ${what.padEnd(36)} ${d.verdict.toUpperCase()} — ${d.matches}/${d.n} triggers, p = ${p(d)}\n`;
process.stdout.write(
  `\nverdicts:\n${line("thief's API (PNG over TF Serving):", a)}${line("thief's web app (model.json):", w)}${line(
    "other API (unmarked original):",
    b,
  )}` + `\ndemo:teachable finished in ${((performance.now() - started) / 1000).toFixed(1)} s; files in ${dir}\n`,
);
