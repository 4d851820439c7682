import { describe, expect, it } from "vitest";
import { parseHeaders, secretValues } from "../../src/detect/adapters/headers.js";
import { type OpenAdapterOptions, openAdapter } from "../../src/detect/adapters/open-adapter.js";

const base: OpenAdapterOptions = {
  protocol: "tfserving",
  endpoint: "http://127.0.0.1:8501",
  modelName: "mnist",
  headers: {},
  classes: 10,
  inputShape: [28, 28, 1],
  timeoutMs: 1000,
};

const fails = async (o: Partial<OpenAdapterOptions>) =>
  (await openAdapter({ ...base, ...o }).then(
    () => undefined,
    (e: unknown) => e,
  )) as { code: string; subject: string; message: string } | undefined;

describe("parseHeaders", () => {
  it("reads Name: value and Name: env:VAR, and PROVMARK_SUSPECT_TOKEN as a bearer token", () => {
    const env = { AUTH: "Bearer abc-123-secret", PROVMARK_SUSPECT_TOKEN: "tok-999" };
    expect(parseHeaders(["X-Team:  research ", "X-Key: env:AUTH"], env)).toEqual({
      "X-Team": "research",
      "X-Key": "Bearer abc-123-secret",
      Authorization: "Bearer tok-999",
    });
    expect(parseHeaders(["authorization: env:AUTH"], env)).toEqual({ authorization: "Bearer abc-123-secret" });
    expect(parseHeaders([], {})).toEqual({});
  });

  it("names the header or variable in errors, never the value", () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["Authorization: env:MISSING"], {}, /header Authorization: the environment variable MISSING is not set/],
      [["NoColonBearerTopSecret"], {}, /--header #1 is not "Name: value"/],
      [["X-A: 1", "x-a: TopSecret2"], {}, /the x-a header is given twice/],
      [["Host: TopSecret3"], {}, /set by the HTTP client/],
      [["X-A: env:INJECT"], { INJECT: "TopSecret4\r\nX-Evil: 1" }, /X-A's value \(from INJECT\) contains a line break/],
      [["X-A: env:not a var"], {}, /is not an environment variable name/],
    ];
    for (const [list, env, message] of cases) {
      let err: unknown;
      try {
        parseHeaders(list, env);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: "USAGE", subject: "--header", message: expect.stringMatching(message) });
      expect(JSON.stringify(err) + String((err as Error).message)).not.toContain("TopSecret");
    }
  });
});

describe("secretValues", () => {
  it("redacts sensitive headers and long values, not short harmless ones", () => {
    expect(
      secretValues({
        Authorization: "Bearer x",
        "X-Api-Key": "k12",
        "X-Version": "v1",
        Accept: "application/json",
        "X-Flag": "yes",
      }),
    ).toEqual(["application/json", "Bearer x", "k12"]);
  });
});

describe("openAdapter", () => {
  it("validates the protocol, URL and model flags with USAGE errors naming the flag", async () => {
    expect(await fails({ protocol: "grpc" })).toMatchObject({ code: "USAGE", subject: "--protocol" });
    expect(await fails({ endpoint: "ftp://host/x" })).toMatchObject({ code: "USAGE", subject: "--endpoint" });
    expect(await fails({ endpoint: "not a url" })).toMatchObject({ code: "USAGE", subject: "--endpoint" });
    expect(await fails({ endpoint: undefined })).toMatchObject({ code: "USAGE", subject: "--endpoint" });
    expect(await fails({ modelName: undefined })).toMatchObject({ code: "USAGE", subject: "--model-name" });
    expect(await fails({ modelName: "a/b" })).toMatchObject({ code: "USAGE", subject: "--model-name" });
    expect(await fails({ modelVersion: "latest" })).toMatchObject({ code: "USAGE", subject: "--model-version" });
    expect(await fails({ protocol: "json" })).toMatchObject({ code: "USAGE", subject: "--config" });
    expect(await fails({ protocol: "json", configPath: "/nonexistent/api.json" })).toMatchObject({
      code: "PATH_NOT_FOUND",
    });
    expect(await fails({ timeoutMs: 0 })).toMatchObject({ code: "USAGE", subject: "--timeout" });
  });

  it("refuses credentials in the URL without repeating them", async () => {
    const e = await fails({ endpoint: "https://alice:pa55word-xyz@host:8501" });
    expect(e).toMatchObject({ code: "USAGE", subject: "--endpoint" });
    expect(JSON.stringify(e) + e?.message).not.toContain("pa55word");
  });

  it("builds predict/infer URLs; the target drops the query string", async () => {
    const a = await openAdapter({ ...base, endpoint: "https://host:8501/serving/?key=k123", modelVersion: "3" });
    expect(a.target).toBe("https://host:8501/serving/v1/models/mnist/versions/3:predict");
    const full = await openAdapter({ ...base, endpoint: "http://h/v1/models/x:predict", modelName: undefined });
    expect(full.target).toBe("http://h/v1/models/x:predict");
    const k = await openAdapter({ ...base, protocol: "kserve", endpoint: "http://h:8080?token=t1", inputName: "x" });
    expect(k.target).toBe("http://h:8080/v2/models/mnist/infer");
    const k2 = await openAdapter({
      ...base,
      protocol: "kserve",
      endpoint: "http://h:8080/v2/models/y/infer",
      modelName: undefined,
      inputName: "x",
    });
    expect(k2.target).toBe("http://h:8080/v2/models/y/infer");
    expect(a.maxBatch).toBe(32);
    expect((await openAdapter({ ...base, maxBatch: 8 })).maxBatch).toBe(8);
  });
});
