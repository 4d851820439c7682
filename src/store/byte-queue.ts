/**
 * A FIFO of bytes that cuts fixed-size pieces from chunks of any size without re-copying what stays
 * queued, so buffering a segment costs O(segment), not O(segment × chunks).
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.byteLength;
  }

  /** The first `n` bytes (n ≤ length), copied out of the queue. */
  peek(n: number): Uint8Array {
    return this.#read(n, false);
  }

  /** Removes and returns the first `n` bytes (n ≤ length). */
  take(n: number): Uint8Array {
    return this.#read(n, true);
  }

  #read(n: number, consume: boolean): Uint8Array {
    if (n > this.#length) throw new RangeError(`ByteQueue: asked for ${n} bytes, holds ${this.#length}`);
    const out = new Uint8Array(n);
    let filled = 0;
    let i = 0;
    let head = this.#head;
    while (filled < n) {
      const chunk = this.#chunks[i] as Uint8Array;
      const piece = Math.min(chunk.byteLength - head, n - filled);
      out.set(chunk.subarray(head, head + piece), filled);
      filled += piece;
      head += piece;
      if (head === chunk.byteLength) {
        i++;
        head = 0;
      }
    }
    if (consume) {
      this.#chunks.splice(0, i);
      this.#head = head;
      this.#length -= n;
    }
    return out;
  }
}
