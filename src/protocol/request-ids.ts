// The request ids active on one connection, for the web-server side: the smallest free id is handed
// out first (from 1, as nginx does), so ids stay small and a flag per id is enough. An array of flags
// rather than a Set: a Set that goes from one id to none and back on every request (a kept,
// non-multiplexed connection) reallocates its table each time.

export class RequestIds {
  private readonly flags: boolean[] = [false]; // id 0 is never a request's
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return this.flags[id] === true;
  }

  /** The smallest free id, now active. RangeError when all 65535 are. */
  take(): number {
    let id = 1;
    while (this.flags[id] === true) id++;
    if (id > 0xffff) throw new RangeError('fcgi-wasm: no free request id on this connection');
    this.flags[id] = true;
    this.count++;
    return id;
  }

  /** Frees `id`; false if it was not active. */
  free(id: number): boolean {
    if (this.flags[id] !== true) return false;
    this.flags[id] = false;
    this.count--;
    return true;
  }

  clear(): void {
    this.flags.length = 1;
    this.count = 0;
  }
}
