import { KaupangError } from "./errors.js";

/** Wait `ms`; with a signal, an abort ends the wait with ERR_INTERRUPTED. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((done, reject) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new KaupangError("ERR_INTERRUPTED", "interrupted"));
    });
  });
}
