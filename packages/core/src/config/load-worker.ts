/**
 * User config code (TypeScript and JavaScript configs, environment files,
 * catalogs) runs in a worker thread with a deadline, never on kaupang's own
 * thread: a config that loops forever or awaits something that never settles
 * would otherwise leave Ctrl-C, SIGTERM and --timeout unable to stop it (only
 * SIGKILL), and an await that never settles would end kaupang with Node's
 * exit 13 and no message. Here the deadline, or an interrupt, terminates the
 * worker and the load fails with one line naming the file.
 *
 * One worker serves the whole run (jiti loads once); it is started on first
 * use and does not keep kaupang alive while idle. It shares kaupang's
 * environment variables and working directory. What a file exports comes back
 * as a structured clone: plain data, which is all a config is (functions are
 * passed as a placeholder function, so validation can name them).
 */
import { createRequire } from "node:module";
import { SHARE_ENV, Worker } from "node:worker_threads";
import { formatDockerDuration } from "../base/duration.js";
import { KaupangError } from "../base/errors.js";
import { interruptedBy, interruptedError, onInterrupt } from "../base/interrupt.js";

/** How long loading one config file may take when --timeout does not say. */
export const defaultConfigLoadTimeoutMs = 30_000;
let timeoutMs = defaultConfigLoadTimeoutMs;

/** The deadline for loading one config file (the CLI passes --timeout); undefined restores the default. */
export function setConfigLoadTimeout(ms: number | undefined): void {
  timeoutMs = ms ?? defaultConfigLoadTimeoutMs;
}

const functionMarker = "\u0000kaupang:function";

// The worker's code: CommonJS, so it needs no file next to the bundle.
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const { createJiti } = require(workerData.jiti);
// The module namespace as it is: a missing default export, or "export default null", must reach the loader's checks.
const jiti = createJiti(workerData.base, { alias: workerData.alias, interopDefault: false, moduleCache: false });
const marker = ${JSON.stringify(functionMarker)};
const plain = (value, seen) => {
  if (typeof value === "function") return { [marker]: value.name || "anonymous" };
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => plain(v, seen));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out = {};
  for (const key of Object.keys(value)) out[key] = plain(value[key], seen);
  return out;
};
parentPort.on("message", async ({ id, file }) => {
  try {
    const mod = await jiti.import(file);
    if (mod === null || typeof mod !== "object" || !("default" in mod)) {
      parentPort.postMessage({ id, ok: true, noDefault: true });
      return;
    }
    try {
      parentPort.postMessage({ id, ok: true, value: plain(mod.default, new Set()) });
    } catch (error) {
      parentPort.postMessage({ id, ok: false, error: { name: "Error", message: "its default export is not plain data: " + error.message } });
    }
  } catch (error) {
    const e = error || {};
    parentPort.postMessage({ id, ok: false, error: { name: e.name, message: String(e.message ?? e), code: e.code, stack: e.stack } });
  }
});
`;

interface Reply {
  id: number;
  ok: boolean;
  /** The module has no default export. */
  noDefault?: boolean;
  value?: unknown;
  error?: object;
}

interface Pending {
  resolve(value: { default?: unknown }): void;
  reject(error: unknown): void;
}

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, Pending>();

/** Put functions back as placeholders (validation reports "a function"). */
function revive(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(revive);
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const record = value as Record<string, unknown>;
  if (typeof record[functionMarker] === "string") return () => record[functionMarker];
  for (const key of Object.keys(record)) record[key] = revive(record[key]);
  return record;
}

function stopWorker(reason: unknown): void {
  const current = worker;
  worker = undefined;
  for (const [id, waiter] of pending) {
    pending.delete(id);
    waiter.reject(reason);
  }
  void current?.terminate();
}

function startWorker(options: { jiti: string; base: string; alias: Record<string, string> }): Worker {
  const started = new Worker(workerSource, { eval: true, env: SHARE_ENV, workerData: options });
  started.on("message", (message: Reply) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.noDefault ? {} : { default: revive(message.value) });
    else waiter.reject(Object.assign(new Error(), message.error));
    if (pending.size === 0) started.unref();
  });
  started.on("error", (error) => {
    if (worker === started) stopWorker(error);
  });
  started.on("exit", () => {
    if (worker === started) stopWorker(new Error("the config loader stopped unexpectedly"));
  });
  return started;
}

/**
 * Import `file` (a config, environment or catalog module) in the loader
 * worker and return its default export as `{ default }` (`{}` when it has none). Errors thrown while loading
 * come back as they were (name, message, code); a file that does not finish
 * within the deadline, or a load interrupted by Ctrl-C / SIGTERM, fails with
 * one line naming `displayName`.
 */
export function importConfigModule(
  file: string,
  displayName: string,
  options: { base: string; alias: Record<string, string> },
): Promise<{ default?: unknown }> {
  if (interruptedBy()) return Promise.reject(interruptedError(`before loading ${displayName}`));
  worker ??= startWorker({ ...options, jiti: createRequire(import.meta.url).resolve("jiti") });
  const current = worker;
  current.ref();
  const id = nextId++;
  const began = Date.now();
  const limit = timeoutMs;
  return new Promise<{ default?: unknown }>((resolve, reject) => {
    const finish = () => {
      clearTimeout(timer);
      stopListening();
    };
    pending.set(id, {
      resolve: (value) => {
        finish();
        resolve(value);
      },
      reject: (error) => {
        finish();
        reject(error);
      },
    });
    const timer = setTimeout(() => {
      stopWorker(
        new KaupangError(
          "ERR_CONFIG_TIMEOUT",
          `${displayName} did not finish loading within ${formatDockerDuration(limit)} (a loop that never ends, or an await that never settles?); stopped it`,
        ),
      );
    }, limit);
    const stopListening = onInterrupt(() => {
      const after = ((Date.now() - began) / 1000).toFixed(1);
      const error = interruptedError(
        `while loading ${displayName} (not finished after ${after}s); stopped it`,
      );
      stopWorker(error);
    });
    current.postMessage({ id, file });
  });
}
