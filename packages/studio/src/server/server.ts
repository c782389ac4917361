/**
 * The studio's web server: node:http, the built page as static files, and a
 * JSON API under /api that answers only with the run's token. It binds to
 * 127.0.0.1 unless told otherwise.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { KaupangError, type Plan } from "@kaupang/core";
import { BadRequest, createHandlers, type Handlers } from "./handlers.js";

export interface StudioOptions {
  /** The project directory (holds kaupang.config.*); files are read and written only under it. Default process.cwd(). */
  cwd?: string | undefined;
  /** The palette's catalog: a file, an http(s) URL or oci://ref. Default: the project's catalog sources. */
  catalog?: string | undefined;
  /** Default 8080; 0 picks a free port. */
  port?: number | undefined;
  /** Default 127.0.0.1. */
  host?: string | undefined;
  /** How the plan is shown as text; the CLI passes its `--dry-run` formatter. */
  formatPlan?: ((plan: Plan) => string) | undefined;
  /** The per-run token; default 24 random bytes. */
  token?: string | undefined;
  /** The built page; default the package's dist/web. */
  webDir?: string | undefined;
}

export interface Studio {
  /** The page's address, token included: one other machines can open when it listens on every interface. */
  url: string;
  /** Every address it answers on (the machine's own addresses for 0.0.0.0 / ::, then loopback). */
  urls: string[];
  token: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

const bodyLimit = 2 * 1024 * 1024;
const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};
const security = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
};

/** The built page next to the bundle (dist/index.js → dist/web) or, from source, the package's dist/web. */
function defaultWebDir(): string {
  for (const candidate of ["./web/", "../../dist/web/"]) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(join(dir, "index.html"))) return dir;
  }
  return fileURLToPath(new URL("../../dist/web/", import.meta.url));
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...security, "Content-Type": "application/json; charset=utf-8", ...headers });
  res.end(text);
}

/**
 * A body over the limit is read to its end and dropped, so the client gets
 * the 413 instead of a reset connection; past `drainLimit` (or a declared
 * length past it) the connection is cut.
 */
const drainLimit = 8 * bodyLimit;

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = () =>
      new BadRequest(`the request body is over the ${bodyLimit / 1024 / 1024} MiB limit`, 413);
    if (Number(req.headers["content-length"]) > drainLimit) {
      reject(tooLarge());
      return;
    }
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > drainLimit) {
        req.destroy();
        return;
      }
      if (size <= bodyLimit) chunks.push(chunk);
    });
    req.on("end", () => {
      if (size > bodyLimit) return reject(tooLarge());
      const text = Buffer.concat(chunks).toString("utf8");
      try {
        resolveBody(text === "" ? {} : JSON.parse(text));
      } catch {
        reject(new BadRequest("the request body is not JSON"));
      }
    });
    req.on("error", reject);
  });
}

/**
 * The Host header values this server answers to: the address it serves, its
 * loopback names when it serves loopback, every local address when it serves
 * all of them. Anything else — a name that resolves here by DNS rebinding —
 * is refused, token or not.
 */
function servedHosts(host: string, port: number): Set<string> {
  const hosts = new Set<string>();
  const add = (name: string) => {
    const shown = name.includes(":") ? `[${name}]` : name;
    hosts.add(`${shown}:${port}`.toLowerCase());
    if (port === 80) hosts.add(shown.toLowerCase());
  };
  const loopback = ["127.0.0.1", "::1", "localhost"];
  add(host);
  if (loopback.includes(host) || host.startsWith("127.")) for (const name of loopback) add(name);
  if (host === "0.0.0.0" || host === "::") {
    for (const name of loopback) add(name);
    for (const addresses of Object.values(networkInterfaces()))
      for (const address of addresses ?? []) add(address.address.replace(/%.*$/, ""));
  }
  return hosts;
}

function sameToken(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

type Route = (handlers: Handlers, body: unknown) => Promise<unknown>;
const routes: Record<string, Route> = {
  "GET /api/session": (h) => h.session(),
  "GET /api/catalog": (h) => h.catalog(),
  "POST /api/catalog/reload": (h) => h.reloadCatalog(),
  "POST /api/plan": (h, body) => h.plan(body),
  "POST /api/export": (h, body) => h.export(body),
  "POST /api/save": (h, body) => h.save(body),
  "POST /api/import": (h, body) => h.import(body),
};

/**
 * The host part of the addresses the studio answers on. A wildcard bind
 * (0.0.0.0, ::) answers on the machine's own addresses, which is what another
 * machine must use; loopback comes last.
 */
function addressesFor(host: string): string[] {
  const bracket = (a: string) => (a.includes(":") ? `[${a}]` : a);
  if (host !== "0.0.0.0" && host !== "::") return [bracket(host)];
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((i): i is NonNullable<typeof i> => i !== undefined && !i.internal)
    .filter((i) => i.family === "IPv4" || (host === "::" && !i.address.startsWith("fe80:")))
    .map((i) => bracket(i.address));
  return [...new Set(external), "127.0.0.1"];
}

/** Start the studio; resolves once it listens. */
export async function startStudio(options: StudioOptions = {}): Promise<Studio> {
  const cwd = resolve(options.cwd ?? process.cwd());
  if (!existsSync(cwd)) {
    throw new KaupangError("ERR_NO_CONFIG", `directory ${cwd} does not exist`, { hint: "check --cwd" });
  }
  const token = options.token ?? randomBytes(24).toString("base64url");
  const host = options.host ?? "127.0.0.1";
  const webDir = resolve(options.webDir ?? defaultWebDir());
  const handlers = createHandlers({ cwd, catalog: options.catalog, formatPlan: options.formatPlan });
  if (options.catalog !== undefined) {
    // A --catalog that cannot be read fails here, in the terminal, not later in a browser tab.
    const palette = await handlers.catalog();
    if (!palette.ok) {
      throw new KaupangError("ERR_CATALOG", `--catalog ${options.catalog}: ${palette.error}`, {
        ...(palette.hint ? { hint: palette.hint } : {}),
      });
    }
  }

  const serveStatic = (res: ServerResponse, pathname: string) => {
    const relativePath = pathname === "/" ? "index.html" : decodeURIComponent(pathname.slice(1));
    const file = normalize(join(webDir, relativePath));
    if (!file.startsWith(webDir.endsWith(sep) ? webDir : webDir + sep) || !existsSync(file)) {
      if (pathname === "/") {
        res.writeHead(500, { ...security, "Content-Type": "text/plain; charset=utf-8" });
        res.end("The studio page is not built: run `npm run build` in the kaupang repository.\n");
        return;
      }
      res.writeHead(404, { ...security, "Content-Type": "text/plain; charset=utf-8" });
      res.end("not found\n");
      return;
    }
    res.writeHead(200, {
      ...security,
      "Content-Type": types[extname(file)] ?? "application/octet-stream",
      ...(file.includes(`${sep}assets${sep}`)
        ? { "Cache-Control": "public, max-age=31536000, immutable" }
        : {}),
    });
    res.end(readFileSync(file));
  };

  let hosts = new Set<string>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://studio.invalid");
    const method = req.method ?? "GET";
    const hostHeader = String(req.headers.host ?? "").toLowerCase();
    if (!hosts.has(hostHeader)) {
      req.resume();
      return send(res, 421, {
        error: `Host ${JSON.stringify(req.headers.host ?? "")} is not this studio's address; open the address kaupang studio printed`,
      });
    }
    if (!url.pathname.startsWith("/api/")) {
      if (method !== "GET" && method !== "HEAD") return send(res, 405, { error: "method not allowed" });
      try {
        serveStatic(res, url.pathname);
      } catch {
        send(res, 400, { error: "bad path" });
      }
      return;
    }
    if (!sameToken(url.searchParams.get("token"), token)) {
      return send(res, 403, { error: "missing or wrong token: open the address kaupang studio printed" });
    }
    // A page of another origin cannot drive the API even if it learned the token.
    const origin = req.headers.origin;
    if (origin !== undefined && origin.toLowerCase() !== `http://${hostHeader}`) {
      return send(res, 403, { error: "cross-origin requests are refused" });
    }
    const route = routes[`${method} ${url.pathname}`];
    if (!route) return send(res, 404, { error: `no route ${method} ${url.pathname}` });
    if (method === "POST" && !String(req.headers["content-type"] ?? "").startsWith("application/json")) {
      return send(res, 415, { error: "send application/json" });
    }
    readBody(req)
      .then((body) => route(handlers, body))
      .then(
        (answer) => send(res, 200, answer),
        (error) => {
          if (error instanceof BadRequest)
            return send(
              res,
              error.status,
              { error: error.message },
              error.status === 413 ? { Connection: "close" } : {},
            );
          console.error(error);
          send(res, 500, { error: "internal error (see the terminal running kaupang studio)" });
        },
      );
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new KaupangError("ERR_STUDIO_PORT", `port ${options.port ?? 8080} on ${host} is in use`, {
              hint: "pass --port <n> (or --port 0 for any free port)",
            })
          : error,
      );
    });
    server.listen(options.port ?? 8080, host, () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  hosts = servedHosts(host, port);
  const urls = addressesFor(host).map((address) => `http://${address}:${port}/?token=${token}`);
  return {
    url: urls[0]!,
    urls,
    token,
    host,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
