/**
 * Helpers for the routing tests: the proxy image the harness builds from
 * Debian's caddy (nothing can be pulled, so it stands in for caddy:2), the
 * proxy settings of a test target, requests through the proxy with a Host
 * header, and Caddy's admin API. Everything stays on loopback.
 */
import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";
import { afterAll } from "vitest";
import { sh } from "./kaupang.js";

const proxyImage = () => process.env.KAUPANG_TEST_PROXY_IMAGE ?? "127.0.0.1:5000/kaupang-test/caddy:2";

interface TestProxy {
  name: string;
  image: string;
  httpPort: number;
  httpsPort: number;
  adminAddress: string;
}

/** Proxy settings for a test target; ports in 19400–19499, one set per backend. */
function testProxy(backend: "compose" | "swarm"): TestProxy {
  const offset = backend === "compose" ? 0 : 1;
  return {
    name: `kroute-proxy-${backend}`,
    image: proxyImage(),
    httpPort: 19480 + offset,
    httpsPort: 19443 + offset,
    adminAddress: `127.0.0.1:${19419 + offset}`,
  };
}

/** Remove a test proxy (container or service) and its volumes, whatever state it is in. */
function removeProxy(proxy: TestProxy): void {
  sh(["docker", "rm", "-f", proxy.name]);
  if (sh(["docker", "service", "inspect", proxy.name]).code === 0) {
    sh(["docker", "service", "rm", proxy.name]);
    for (
      let i = 0;
      i < 30 &&
      sh(["docker", "ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${proxy.name}`]).out;
      i++
    )
      sh(["sleep", "1"]);
  }
  for (const config of sh([
    "docker",
    "config",
    "ls",
    "-q",
    "--filter",
    `name=${proxy.name}-bootstrap`,
  ]).out.split("\n"))
    if (config) sh(["docker", "config", "rm", config]);
  sh(["docker", "volume", "rm", "-f", `${proxy.name}-data`, `${proxy.name}-config`]);
}

/** Remove the file's proxy before its first test (a run that died may have left one) and after its last. */
export function proxyFor(backend: "compose" | "swarm"): TestProxy {
  const proxy = testProxy(backend);
  removeProxy(proxy);
  afterAll(() => removeProxy(proxy));
  return proxy;
}

interface Answer {
  status: number;
  body: string;
  /** HTTPS: whether the certificate verified against the given CA, and its issuer. */
  authorized?: boolean;
  issuer?: string;
}

/** One GET through the proxy with `host` as Host header (and SNI for HTTPS, verified against `ca` or the system's roots). */
export function get(
  url: string,
  host: string,
  options: { ca?: string; timeoutMs?: number } = {},
): Promise<Answer> {
  const target = new URL(url);
  if (target.hostname !== "127.0.0.1") throw new Error(`tests only send to loopback, not ${target.hostname}`);
  const https = target.protocol === "https:";
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        headers: { Host: host },
        agent: false,
        ...(https
          ? { servername: host, rejectUnauthorized: true, ...(options.ca ? { ca: options.ca } : {}) }
          : {}),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () => {
          const socket = res.socket as TLSSocket;
          resolve({
            status: res.statusCode ?? 0,
            body,
            ...(https
              ? {
                  authorized: socket.authorized,
                  issuer: String(socket.getPeerCertificate?.()?.issuer?.CN ?? ""),
                }
              : {}),
          });
        });
      },
    );
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** Poll `get` until it answers 200, for at most `timeoutMs`. */
export async function waitAnswer(
  url: string,
  host: string,
  options: { ca?: string; timeoutMs?: number } = {},
): Promise<Answer> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last = "";
  while (Date.now() < deadline) {
    try {
      const answer = await get(url, host, options);
      if (answer.status === 200) return answer;
      last = `status ${answer.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${url} (Host ${host}) did not answer 200 within ${options.timeoutMs ?? 30_000}ms: ${last}`,
  );
}

/** A request to Caddy's admin API of `proxy`; the parsed JSON body. */
export async function admin(
  proxy: TestProxy,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://${proxy.adminAddress}${path}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** The `@id`s of the routes in the proxy's kaupang servers. */
export async function routeIds(proxy: TestProxy): Promise<string[]> {
  const config = (await admin(proxy, "GET", "/config/")).body as {
    apps?: { http?: { servers?: Record<string, { routes?: { "@id"?: string }[] }> } };
  };
  return Object.values(config?.apps?.http?.servers ?? {}).flatMap((s) =>
    (s.routes ?? []).map((r) => r["@id"] ?? "(no id)"),
  );
}

/** A routed HTTP service from the base image (busybox httpd on 8080, healthy once it answers). */
export function routedService(image: string, http: unknown, extra: Record<string, unknown> = {}) {
  return {
    image,
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
    ports: ["8080"],
    healthcheck: {
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
      interval: "1s",
      retries: 30,
    },
    compose: { init: true },
    http,
    ...extra,
  };
}

/** Run a command without blocking the event loop (a load loop keeps running meanwhile). */
export function run(argv: string[]): Promise<{ code: number; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, err }));
  });
}
