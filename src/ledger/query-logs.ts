/**
 * eth_getLogs over [fromBlock, latest] in windows: public RPC providers cap the block range (often
 * 1k–10k blocks) or the result size, so a window that fails is halved until it fits.
 */
export async function queryLogsChunked<T>(
  query: (from: number, to: number) => Promise<T[]>,
  latest: () => Promise<number>,
  fromBlock: number,
  initialWindow = 50_000,
): Promise<T[]> {
  const head = await latest();
  const out: T[] = [];
  let window = initialWindow;
  let from = fromBlock;
  while (from <= head) {
    const to = Math.min(head, from + window - 1);
    try {
      out.push(...(await query(from, to)));
      from = to + 1;
    } catch (e) {
      if (window <= 128) throw e;
      window = Math.floor(window / 2);
    }
  }
  return out;
}
