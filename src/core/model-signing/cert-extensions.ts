import { ProvmarkError } from "../../errors.js";

/** The X.509 v3 extensions chain checks need and node:crypto's X509Certificate does not expose. */
export interface CertExtensions {
  /** KeyUsage bits, undefined when the extension is absent. */
  keyUsage: { digitalSignature: boolean; keyCertSign: boolean } | undefined;
  basicConstraints: { ca: boolean; pathLen: number | undefined } | undefined;
  /** ExtendedKeyUsage OIDs, undefined when absent. */
  extKeyUsage: string[] | undefined;
  /** OIDs of every extension marked critical. */
  critical: string[];
}

export const OID = {
  keyUsage: "2.5.29.15",
  basicConstraints: "2.5.29.19",
  extKeyUsage: "2.5.29.37",
  codeSigning: "1.3.6.1.5.5.7.3.3",
} as const;

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function readTlv(b: Uint8Array, at: number, limit: number): Tlv {
  const tag = b[at];
  let len = b[at + 1];
  if (tag === undefined || len === undefined || (tag & 0x1f) === 0x1f) throw bad();
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 4) throw bad();
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[p++] ?? Number.NaN);
  }
  if (!Number.isFinite(len) || p + len > limit) throw bad();
  return { tag, start: p, end: p + len };
}

function children(b: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.start; p < t.end; ) {
    const c = readTlv(b, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

function oid(b: Uint8Array, t: Tlv): string {
  const first = b[t.start] ?? 0;
  const parts = [Math.floor(first / 40), first % 40];
  let v = 0;
  for (let p = t.start + 1; p < t.end; p++) {
    const x = b[p] ?? 0;
    v = v * 128 + (x & 0x7f);
    if (!(x & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

const bad = () =>
  new ProvmarkError("SIGNATURE_CHAIN_UNTRUSTED", "a certificate's DER encoding could not be read", {
    hints: ["The certificate in model.sig or --certificate-chain is damaged."],
  });

/** Reads the extensions of a DER certificate (a small DER walk: no ASN.1 library needed for three fields). */
export function certExtensions(der: Uint8Array): CertExtensions {
  const out: CertExtensions = {
    keyUsage: undefined,
    basicConstraints: undefined,
    extKeyUsage: undefined,
    critical: [],
  };
  const cert = readTlv(der, 0, der.length);
  const [tbs] = children(der, cert);
  if (tbs === undefined) throw bad();
  const explicit3 = children(der, tbs).find((c) => c.tag === 0xa3);
  if (explicit3 === undefined) return out;
  const [list] = children(der, explicit3);
  if (list === undefined) return out;
  for (const ext of children(der, list)) {
    const parts = children(der, ext);
    const id = parts[0];
    const value = parts[parts.length - 1];
    if (id === undefined || value === undefined || value.tag !== 0x04) throw bad();
    const name = oid(der, id);
    if (parts.length === 3 && parts[1] !== undefined && der[parts[1].start] !== 0) out.critical.push(name);
    const inner = readTlv(der, value.start, value.end);
    if (name === OID.keyUsage) {
      const bits = der[inner.start + 1] ?? 0;
      out.keyUsage = { digitalSignature: (bits & 0x80) !== 0, keyCertSign: (bits & 0x04) !== 0 };
    } else if (name === OID.basicConstraints) {
      let ca = false;
      let pathLen: number | undefined;
      for (const c of children(der, inner)) {
        if (c.tag === 0x01) ca = der[c.start] !== 0;
        if (c.tag === 0x02) {
          pathLen = 0;
          for (let p = c.start; p < c.end; p++) pathLen = pathLen * 256 + (der[p] ?? 0);
        }
      }
      out.basicConstraints = { ca, pathLen };
    } else if (name === OID.extKeyUsage) {
      out.extKeyUsage = children(der, inner).map((c) => oid(der, c));
    }
  }
  return out;
}
