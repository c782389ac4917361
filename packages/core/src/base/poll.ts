import { KaupangError } from "./errors.js";
import { interruptedError, onInterrupt } from "./interrupt.js";

/**
 * Wait `ms`. An interrupt (Ctrl-C, SIGTERM) ends the wait with ERR_INTERRUPTED,
 * and so does an abort of `signal`.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((done, reject) => {
    let stopListening = () => {};
    const timer = setTimeout(() => {
      stopListening();
      done();
    }, ms);
    stopListening = onInterrupt(() => {
      clearTimeout(timer);
      reject(interruptedError());
    });
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      stopListening();
      reject(new KaupangError("ERR_INTERRUPTED", "interrupted"));
    });
  });
}
