/**
 * The few HTTP requests kaupang makes to registries, read whole (their bodies
 * are small). node:http(s) with keep-alive loads in a few milliseconds, where
 * the global fetch costs ~50 ms on first use — and a no-change deploy is a
 * few hundred. With HTTP(S)_PROXY set, requests go through undici's
 * EnvHttpProxyAgent instead (it honours NO_PROXY), loaded only then.
 */
import type { Agent as HttpAgent } from "node:http";
import type { Agent as HttpsAgent } from "node:https";
import type { Dispatcher } from "undici";

export interface Reply {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export type Send = (url: string, init: RequestInit) => Promise<Reply>;

export function header(reply: Reply, name: string): string | undefined {
  const value = reply.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const agents: { http?: HttpAgent; https?: HttpsAgent } = {};

async function once(url: URL, init: RequestInit): Promise<Reply> {
  const secure = url.protocol === "https:";
  const mod = secure ? await import("node:https") : await import("node:http");
  if (secure) agents.https ??= new (mod as typeof import("node:https")).Agent({ keepAlive: true });
  else agents.http ??= new mod.Agent({ keepAlive: true });
  const agent = secure ? agents.https : agents.http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method: init.method ?? "GET",
        headers: init.headers,
        agent,
        signal: AbortSignal.timeout(init.timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** node:http(s), following up to 5 redirects (credentials are not sent to another host). */
const direct: Send = async (url, init) => {
  let target = new URL(url);
  let current = init;
  for (let hop = 0; ; hop++) {
    const reply = await once(target, current);
    const location = header(reply, "location");
    if (![301, 302, 303, 307, 308].includes(reply.status) || !location || hop === 5) return reply;
    const next = new URL(location, target);
    if (next.host !== target.host && current.headers?.authorization) {
      const { authorization: _dropped, ...rest } = current.headers;
      current = { ...current, headers: rest };
    }
    if (reply.status === 303) current = { ...current, method: "GET", body: undefined };
    target = next;
  }
};

let proxyAgent: Dispatcher | undefined;

function proxied(env: NodeJS.ProcessEnv): Send {
  return async (url, init) => {
    const undici = await import("undici");
    proxyAgent ??= new undici.EnvHttpProxyAgent({
      httpProxy: env.HTTP_PROXY || env.http_proxy,
      httpsProxy: env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy,
      noProxy: env.NO_PROXY || env.no_proxy,
    }).compose(undici.interceptors.redirect({ maxRedirections: 5 }));
    const res = await undici.request(url, {
      method: (init.method ?? "GET") as Dispatcher.HttpMethod,
      headers: init.headers,
      body: init.body,
      dispatcher: proxyAgent,
      signal: AbortSignal.timeout(init.timeoutMs),
    });
    return {
      status: res.statusCode,
      headers: res.headers as Reply["headers"],
      body: Buffer.from(await res.body.arrayBuffer()),
    };
  };
}

export function senderFor(env: NodeJS.ProcessEnv): Send {
  const proxy = env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy;
  return proxy ? proxied(env) : direct;
}
