/**
 * A small client for Caddy's admin API at a target's `proxy.adminAddress`:
 * one request at a time, JSON in and out. Each request that changes the
 * config is announced as the `curl` command that does the same (the plan
 * shows the same form), so a deploy's log says exactly what changed.
 */
import { request } from "node:http";
import { KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import type { ProxySettings } from "../base/target.js";
import { formatCommand } from "../exec/format.js";
import { type AdminRequest, adminCommand } from "../plan/proxy-requests.js";

interface AdminReply {
  status: number;
  body: unknown;
}

/** The admin API did not answer at all (refused, reset, timed out). */
class AdminUnreachable extends Error {}

export function sendAdmin(address: string, req: AdminRequest, timeoutMs = 10_000): Promise<AdminReply> {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon).replace(/^\[|\]$/g, "");
  const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
  return new Promise((resolve, reject) => {
    const call = request(
      {
        host,
        port: Number(address.slice(colon + 1)),
        method: req.method,
        path: req.path,
        agent: false,
        headers: payload === undefined ? {} : { "Content-Type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => reject(new AdminUnreachable(e.message)));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8").trim();
          let body: unknown = text;
          try {
            body = text === "" ? undefined : JSON.parse(text);
          } catch {
            // Not JSON (an error page): keep the text.
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    call.setTimeout(timeoutMs, () => call.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    call.on("error", (e) =>
      reject(new AdminUnreachable((e as NodeJS.ErrnoException).code ?? e.message, { cause: e })),
    );
    call.end(payload);
  });
}

/** Caddy's error text of a failed reply. */
const replyError = (reply: AdminReply): string => {
  const body = reply.body as { error?: string } | string | undefined;
  return typeof body === "string" ? body : (body?.error ?? `HTTP ${reply.status}`);
};

/** The one-line error for an admin API that does not answer. */
export function unreachableError(proxy: ProxySettings, error: unknown, hint?: string): KaupangError {
  const why = error instanceof Error ? error.message : String(error);
  return new KaupangError(
    "ERR_PROXY_UNREACHABLE",
    `proxy ${proxy.name}: its admin API at http://${proxy.adminAddress} does not answer (${why}); nothing was deployed`,
    { hint: hint ?? `check proxy.adminAddress of the target and that the proxy ${proxy.name} runs` },
  );
}

/** Send a request that must succeed; announce it when it changes something. */
export async function adminOk(
  proxy: ProxySettings,
  req: AdminRequest,
  options: { events: EventSink; scope: string; description: string },
): Promise<unknown> {
  if (req.method !== "GET") {
    const shown = adminCommand(proxy, req, options.description);
    options.events({ type: "command", scope: options.scope, command: formatCommand(shown.argv) });
  }
  let reply: AdminReply | undefined;
  // A read is retried for a moment (Caddy restarts its admin listener with a config change);
  // a change is sent once: it may have arrived.
  const deadline = Date.now() + (req.method === "GET" ? 2000 : 0);
  while (!reply) {
    try {
      reply = await sendAdmin(proxy.adminAddress, req);
    } catch (error) {
      if (Date.now() >= deadline) throw unreachableError(proxy, error);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (reply.status < 200 || reply.status >= 300) {
    throw new KaupangError(
      "ERR_PROXY_REQUEST",
      `proxy ${proxy.name}: ${req.method} ${req.path} failed: ${replyError(reply)}`,
      { hint: options.description },
    );
  }
  return reply.body;
}

/** The proxy's whole config (null for an empty one). */
export const readConfig = (proxy: ProxySettings, scope: string): Promise<unknown> =>
  adminOk(
    proxy,
    { method: "GET", path: "/config/" },
    { events: () => {}, scope, description: "read the config" },
  );

/**
 * Wait until the admin API answers (a proxy that just started, or restarted
 * its task): resolves with nothing once it does, with the last failure once
 * `timeoutMs` passed without an answer.
 */
export async function waitForAdmin(proxy: ProxySettings, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const reply = await sendAdmin(proxy.adminAddress, { method: "GET", path: "/config/" }, 2000);
      if (reply.status === 200) return undefined;
      last = new Error(replyError(reply));
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) return last ?? new Error("no answer");
    await new Promise((r) => setTimeout(r, 200));
  }
}
