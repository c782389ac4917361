/**
 * Routes and the proxy, written → normalised: a service's `http` becomes a
 * list of routes with every default applied and each port checked against
 * the ports the service exposes; a target's `proxy` gets its defaults.
 */
import type * as z from "zod";
import { parseDuration } from "../base/duration.js";
import { showValue } from "../base/errors.js";
import type { ProxySettings } from "../base/target.js";
import type { Route } from "./model.js";
import type { PortMapping } from "./ports.js";
import type { ServiceObjectSchema, TargetSchema } from "./schema.js";
import { fieldError } from "./validate.js";

type WrittenHttp = NonNullable<z.output<typeof ServiceObjectSchema>["http"]>;
type WrittenProxy = NonNullable<z.output<typeof TargetSchema>["proxy"]>;

/** The proxy kaupang runs when a target says nothing else. */
export const defaultProxy: ProxySettings = {
  name: "kaupang-proxy",
  image: "caddy:2",
  httpPort: 80,
  httpsPort: 443,
  adminAddress: "127.0.0.1:2019",
  drainTimeoutMs: 30_000,
};

/** A target's proxy settings with the defaults filled in. */
export function normalizeProxy(written: WrittenProxy): ProxySettings {
  return {
    name: written.name ?? defaultProxy.name,
    image: written.image ?? defaultProxy.image,
    httpPort: written.httpPort ?? defaultProxy.httpPort,
    httpsPort: written.httpsPort ?? defaultProxy.httpsPort,
    adminAddress: written.adminAddress ?? defaultProxy.adminAddress,
    drainTimeoutMs:
      written.drainTimeout !== undefined ? parseDuration(written.drainTimeout) : defaultProxy.drainTimeoutMs,
    ...(written.ingressClassName !== undefined ? { ingressClassName: written.ingressClassName } : {}),
    ...(written.server !== undefined ? { server: written.server } : {}),
  };
}

/** "/" stays; any other prefix loses a trailing "/" ("/api/" and "/api" are one route). */
const normalizeRoutePath = (path: string | undefined): string =>
  path === undefined || path === "/" ? "/" : path.replace(/\/+$/, "") || "/";

/**
 * The routes of one service. Each port must be one the service exposes
 * (a `ports` entry; "8080" exposes without publishing), so the proxy, the
 * Kubernetes Service and the Ingress all agree on it.
 */
export function normalizeRoutes(input: {
  http: WrittenHttp;
  ports: readonly PortMapping[];
  runOnce: boolean;
  file: string;
  path: (string | number)[];
}): Route[] {
  const { file } = input;
  const written = Array.isArray(input.http) ? input.http : [input.http];
  const httpPath = [...input.path, "http"];
  if (input.runOnce) {
    throw fieldError({
      file,
      path: httpPath,
      message: "a runOnce service exits after its task; it cannot be routed to",
    });
  }
  const exposed = [...new Set(input.ports.filter((p) => p.protocol === "tcp").map((p) => p.target))];
  const seen = new Set<string>();
  return written.map((entry, index) => {
    const at = Array.isArray(input.http) ? [...httpPath, index] : httpPath;
    const route = typeof entry === "string" ? { host: entry } : entry;
    let port = route.port;
    if (port === undefined) {
      if (exposed.length !== 1) {
        throw fieldError({
          file,
          path: at,
          message:
            exposed.length === 0
              ? 'a route needs a port the service exposes: add one to ports (e.g. "8080" exposes it without publishing)'
              : `the service exposes ports ${exposed.join(", ")}: say which one the route goes to (port)`,
        });
      }
      port = exposed[0]!;
    } else if (!exposed.includes(port)) {
      throw fieldError({
        file,
        path: typeof entry === "string" ? at : [...at, "port"],
        value: port,
        message: `${showValue(port)} is not a port the service exposes (${exposed.length > 0 ? `its ports: ${exposed.join(", ")}` : "it has no ports"}); add "${port}" to ports to expose it`,
      });
    }
    const out: Route = {
      host: route.host.toLowerCase(),
      path: normalizeRoutePath(route.path),
      port,
      tls: route.tls ?? "off",
    };
    if (route.tlsSecret !== undefined) out.tlsSecret = route.tlsSecret;
    const key = `${out.host}${out.path}`;
    if (seen.has(key)) {
      throw fieldError({
        file,
        path: at,
        value: key,
        message: `${showValue(key)} is routed twice in this service`,
      });
    }
    seen.add(key);
    return out;
  });
}
