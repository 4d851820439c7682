/**
 * DSSE v1 pre-authentication encoding: what an envelope's signature is over
 * (https://github.com/secure-systems-lab/dsse/blob/v1.0.0/protocol.md). Lengths are byte counts.
 */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = new TextEncoder().encode(payloadType);
  const head = new TextEncoder().encode(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}
