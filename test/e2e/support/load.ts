/**
 * A bounded load loop for zero-downtime checks: GET requests to a loopback
 * address with a Host header, on fresh connections, a few at a time, until
 * stopped or a cap on requests or time is reached. Counts what failed
 * (network errors, timeouts, non-2xx answers).
 */
import { request } from "node:http";

interface LoadResult {
  requests: number;
  failed: number;
  /** The slowest answered request, in ms (a proxy that holds requests during a gap shows it here). */
  slowestMs: number;
  /** Up to ten distinct failure descriptions, with their counts. */
  failures: Record<string, number>;
  durationMs: number;
}

interface LoadOptions {
  /** Loopback URL the requests go to, e.g. http://127.0.0.1:19480/ */
  url: string;
  /** Host header (the route's host). */
  host: string;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Hard caps: the loop stops at whichever comes first. */
  maxRequests?: number;
  maxMs?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Pause between one worker's requests, to bound the rate. */
  pauseMs?: number;
}

function once(url: URL, host: string, timeoutMs: number): Promise<string | undefined> {
  if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost")
    throw new Error(`load loops stay on loopback, not ${url.hostname}`);
  return new Promise((resolve) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, headers: { Host: host }, agent: false },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve(res.statusCode && res.statusCode < 300 ? undefined : `status ${res.statusCode}`),
        );
        res.on("error", (e) => resolve(`response: ${e.message}`));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
    req.end();
  });
}

/** Start the loop; `stop()` ends it and resolves with the counts. */
export function startLoad(options: LoadOptions): {
  stop: () => Promise<LoadResult>;
  done: Promise<LoadResult>;
} {
  const url = new URL(options.url);
  const maxRequests = options.maxRequests ?? 50_000;
  const deadline = Date.now() + (options.maxMs ?? 10 * 60_000);
  const started = Date.now();
  const result: LoadResult = { requests: 0, failed: 0, slowestMs: 0, failures: {}, durationMs: 0 };
  let stopped = false;
  const worker = async () => {
    while (!stopped && result.requests < maxRequests && Date.now() < deadline) {
      result.requests++;
      const sent = performance.now();
      const failure = await once(url, options.host, options.timeoutMs ?? 5000);
      if (!failure) result.slowestMs = Math.max(result.slowestMs, Math.round(performance.now() - sent));
      if (failure) {
        result.failed++;
        if (failure in result.failures || Object.keys(result.failures).length < 10)
          result.failures[failure] = (result.failures[failure] ?? 0) + 1;
      }
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  };
  const done = Promise.all(Array.from({ length: options.concurrency ?? 2 }, worker)).then(() => {
    result.durationMs = Date.now() - started;
    return result;
  });
  return {
    done,
    stop: () => {
      stopped = true;
      return done;
    },
  };
}
