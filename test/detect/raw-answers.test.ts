import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelIO } from "../../src/core/input/model-io.js";
import { readRawAnswer } from "../../src/detect/adapters/raw-answer.js";
import { type ModelServer, startModelServer } from "../../src/serve/model-server.js";
import { answers, detectWith, releaseFor } from "./helpers/encoded-release.js";

// Raw endpoints answer in shapes `serve` does not write: a tiny server on 127.0.0.1 forwards each
// image to the real served Teachable Machine model (`:classify`) and reshapes its answer, so every
// shape must give the answers serve's own [{label, score}] gives.
type Entry = { label: string; score: number };
const SHAPES: Record<string, (rows: Entry[]) => string> = {
  "Teachable Machine list": (rows) => JSON.stringify(rows.map((r) => ({ className: r.label, probability: r.score }))),
  "Teachable Machine single": (rows) => JSON.stringify({ className: rows[0]?.label, probability: rows[0]?.score }),
  "top-k dictionary": (rows) => JSON.stringify(Object.fromEntries(rows.slice(0, 2).map((r) => [r.label, r.score]))),
  "HF nested, unsorted": (rows) => JSON.stringify([[...rows].reverse()]),
  "not JSON": () => "<html>busy</html>",
  "unknown class": (rows) => JSON.stringify([{ label: "Zebra", score: 1 }, ...rows]),
  "missing score": (rows) => JSON.stringify(rows.map((r) => ({ label: r.label }))),
};

let served: ModelServer;
let wrapper: Server;
let base: string;
let release: Awaited<ReturnType<typeof releaseFor>>;
let truth: Record<number, number | null>;

beforeAll(async () => {
  served = await startModelServer({
    modelDir: "test/fixtures/teachable-machine/image-model",
    port: 0,
    modelName: "tm",
    backend: "wasm",
  });
  if (!served.imageIO.ok) throw new Error(served.imageIO.why);
  release = await releaseFor(served.imageIO.io as ModelIO, 4);
  wrapper = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const shape = SHAPES[decodeURIComponent((req.url ?? "/").slice(1))];
    const r = await fetch(served.classifyUrl, {
      method: "POST",
      headers: { "content-type": req.headers["content-type"] ?? "image/png" },
      body: Buffer.concat(chunks),
    });
    const rows = (await r.json()) as Entry[];
    res.writeHead(200, { "content-type": "application/json" }).end(shape ? shape(rows) : "{}");
  });
  await new Promise<void>((ok) => wrapper.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${(wrapper.address() as AddressInfo).port}`;
  truth = answers(await detectWith(release, { protocol: "raw", endpoint: served.classifyUrl }));
}, 300_000);
afterAll(async () => {
  await new Promise((ok) => wrapper?.close(ok));
  await served?.close();
});

const at = (shape: string) => `${base}/${encodeURIComponent(shape)}`;

describe("--protocol raw reads each answer shape by the certificate's class names", () => {
  it.each(["Teachable Machine list", "Teachable Machine single", "top-k dictionary", "HF nested, unsorted"])(
    "%s",
    async (shape) => {
      const r = await detectWith(release, { protocol: "raw", endpoint: at(shape) });
      expect(answers(r)).toEqual(truth);
      expect(Object.values(truth).every((a) => a !== null)).toBe(true);
    },
  );

  it.each([
    ["not JSON", "ENDPOINT_BAD_RESPONSE"],
    ["unknown class", "ENDPOINT_CLASS_UNKNOWN"],
    ["missing score", "ENDPOINT_BAD_RESPONSE"],
  ])("%s is the coded error %s", async (shape, code) => {
    await expect(detectWith(release, { protocol: "raw", endpoint: at(shape) })).rejects.toMatchObject({ code });
  });

  it("an unknown class name is named, with the known ones listed", () => {
    expect(() =>
      readRawAnswer([{ label: "Zebra", score: 0.9 }], ["Class 1", "Class 2"]),
    ).toThrowErrorMatchingInlineSnapshot(
      `[ProvmarkError: the suspect answered class "Zebra", which is not one of the certificate's 2 classes: "Class 1", "Class 2"]`,
    );
    expect(() => readRawAnswer([{ label: "Class 1" }], ["Class 1", "Class 2"])).toThrowErrorMatchingInlineSnapshot(
      `[ProvmarkError: the score of "Class 1" is missing, not a number]`,
    );
  });
});
