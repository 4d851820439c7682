import { describe, expect, it } from "vitest";
import { parseRetryAfter } from "../../src/detect/adapters/http-exchange.js";
import { parsePath } from "../../src/detect/adapters/json-path.js";
import { NONFINITE, parseBody } from "../../src/detect/adapters/lenient-json.js";
import { itemParser, responseParser } from "../../src/detect/adapters/parse-response.js";

const b = (s: string) => new TextEncoder().encode(s);

describe("responseParser (evidence re-checks without an adapter)", () => {
  it("reads each protocol's stored bodies", () => {
    expect(responseParser("tfserving", { classes: 3 })(b('{"predictions":[[0.1,0.8,0.1],[0.9,0,0.1]]}'), 3)).toEqual([
      1,
      0,
      null,
    ]);
    expect(
      responseParser("kserve", { classes: 3 })(
        b('{"outputs":[{"name":"o","shape":[2,3],"datatype":"FP32","data":[0,0,1,0,1,0]}]}'),
        2,
      ),
    ).toEqual([2, 1]);
    expect(responseParser("local", { classes: 2 })(b('{"outputs":[[0.2,0.8]]}'), 1)).toEqual([1]);
  });

  it("json: a kept response section, batched or not (inferred from the answer's shape)", () => {
    const names = ["cat", "dog", "fox"];
    const probs = responseParser("json", {
      classes: 3,
      responseConfig: { path: "r", kind: "probabilities", classNames: names },
    });
    expect(probs(b('{"r":[0.1,0.2,0.7]}'), 1)).toEqual([2]);
    expect(probs(b('{"r":[[0.1,0.2,0.7]]}'), 1)).toEqual([2]);
    expect(probs(b('{"r":{"dog":0.9,"cat":0.1}}'), 1)).toEqual([1]);
    expect(probs(b('{"r":[{"dog":0.9},{"fox":0.6,"cat":0.4}]}'), 2)).toEqual([1, 2]);
    const label = responseParser("json", { classes: 3, responseConfig: { path: "", kind: "label" } });
    expect(label(b("2"), 1)).toEqual([2]);
    expect(label(b("[2]"), 1)).toEqual([2]);
    const topk = responseParser("json", { classes: 3, responseConfig: { path: "t", kind: "topk", classNames: names } });
    expect(topk(b('{"t":[["fox",0.9],["dog",0.1]]}'), 1)).toEqual([2]);
    expect(topk(b('{"t":[[["fox",0.9]],[["cat",0.8]]]}'), 2)).toEqual([2, 0]);
    expect(topk(b('{"t":[{"label":"dog","score":1}]}'), 1)).toEqual([1]);
    const explicit = responseParser("json", { classes: 3, responseConfig: { path: "", kind: "label", batch: false } });
    expect(explicit(b("[2]"), 1)).toEqual([null]);
    expect(() => responseParser("json", { classes: 3, responseConfig: null })).toThrow(
      /not a JSON API response section/,
    );
    expect(() => responseParser("grpc", { classes: 3 })).toThrow(/unknown suspect protocol/);
  });

  it("item results say why an item failed", () => {
    const items = itemParser("tfserving", { classes: 2 })(
      b('{"predictions":[[NaN,1],[1e999,0],[0.5,"x"],{"a":[0,1],"b":[1,0]}]}'),
      5,
    );
    expect(items.map((i) => (i.ok ? i.label : i.failure))).toEqual([
      "nonfinite",
      "nonfinite",
      "malformed",
      "malformed",
      "short",
    ]);
  });
});

describe("small parsers", () => {
  it("Retry-After: seconds or an HTTP date; junk is ignored", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("5", now)).toBe(5000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("-1", now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });

  it("lenient JSON: bare NaN/Infinity become markers, strings are left alone, HTML is named", () => {
    const v = parseBody(b('{"a":[NaN,-Infinity,Infinity,1],"s":"NaN Infinity \\" NaN"}'));
    expect(v).toEqual({ ok: true, value: { a: [NONFINITE, NONFINITE, NONFINITE, 1], s: 'NaN Infinity " NaN' } });
    expect(parseBody(b("  <html><body>502</body></html>"))).toMatchObject({
      ok: false,
      detail: expect.stringContaining("HTML"),
    });
    expect(parseBody(b('{"predictions": [[0.1, 0.2'))).toMatchObject({
      ok: false,
      detail: expect.stringContaining("not valid JSON"),
    });
    expect(parseBody(b(""))).toEqual({ ok: false, detail: "empty response body" });
  });

  it("paths: dots, indices, quoted names", () => {
    expect(parsePath("data.result")).toEqual(["data", "result"]);
    expect(parsePath("$.outputs[0].data")).toEqual(["outputs", 0, "data"]);
    expect(parsePath('scores["T-shirt / top"]')).toEqual(["scores", "T-shirt / top"]);
    expect(parsePath("")).toEqual([]);
    expect(() => parsePath("a..b")).toThrow(RangeError);
    expect(() => parsePath("a[x]")).toThrow(RangeError);
  });
});
