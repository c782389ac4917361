/**
 * Routes as the proxy sees them, pure: Caddy JSON for each route (one
 * `reverse_proxy` route per host + path, tagged with an `@id` kaupang owns),
 * the TLS automation policy of an `internal` route, the configuration a new
 * proxy starts with, and each route's URL.
 *
 * Everything kaupang adds to a shared Caddy carries an id starting
 * `kaupang.<project>.<environment>.`: that prefix is how kaupang finds its own
 * routes and leaves every other route (hand-added, another tool's) alone.
 */
import type { BackendName, ProxySettings, TargetSettings } from "../base/target.js";
import type { Environment, Model, Route, Service } from "../config/model.js";
import { defaultProxy } from "../config/routes.js";
import { unsupported } from "./shared.js";

/** The two servers kaupang keeps in its proxy: plain HTTP, and HTTPS (automatic HTTPS applies there only). */
export const proxyServers = { http: "kaupang.http", https: "kaupang.https" } as const;
/** Ports Caddy listens on inside the proxy container; the host ports are published onto them. */
export const proxyContainerPorts = { http: 80, https: 443, admin: 2019 } as const;

/** A target's proxy settings, the defaults where it configures none. */
export const proxyOf = (target: Pick<TargetSettings, "proxy">): ProxySettings => target.proxy ?? defaultProxy;

export const environmentRoutePrefix = (project: string, environment: string): string =>
  `kaupang.${project}.${environment}.`;
export const projectRoutePrefix = (project: string): string => `kaupang.${project}.`;
const routeId = (project: string, environment: string, service: string, index: number): string =>
  `${environmentRoutePrefix(project, environment)}${service}.${index}`;
export const tlsPolicyId = (id: string): string => `${id}.tls`;
/** The server a target's raw `proxy.server` is installed as. */
export const projectServerName = (project: string): string => `kaupang.${project}`;

/** A route of one service, as planned: where it answers and where it is recorded. */
export interface PlannedRoute extends Route {
  service: string;
  /** The `@id` of its route object in the proxy's config. */
  id: string;
  url: string;
}

/** What a route answers for: its host, and its path prefix unless it is "/". */
function routeMatch(route: Pick<Route, "host" | "path">): Record<string, string[]> {
  return {
    host: [route.host],
    ...(route.path === "/" ? {} : { path: [route.path, `${route.path}/*`] }),
  };
}

/** How specific a route is: a longer path prefix must be tried before a shorter one of the same host. */
export const routeSpecificity = (route: Pick<Route, "path">): number =>
  route.path === "/" ? 0 : route.path.length;

/**
 * The Caddy route object: one reverse_proxy handler whose upstreams are the
 * service's containers (or its swarm service name). A dial that fails is
 * retried on another upstream for a few seconds, so a container that stops
 * between DNS and dial costs a retry, not an error.
 */
export function caddyRoute(route: PlannedRoute, upstreams: readonly string[]): Record<string, unknown> {
  return {
    "@id": route.id,
    match: [routeMatch(route)],
    handle: [
      {
        handler: "reverse_proxy",
        upstreams: upstreams.map((dial) => ({ dial })),
        load_balancing: { try_duration: "5s", try_interval: "100ms" },
      },
    ],
    terminal: true,
  };
}

/** The config path of a route's upstreams, the one thing a blue/green switch changes. */
export const upstreamsPath = (id: string): string => `/id/${id}/handle/0/upstreams`;

/** Dial addresses for a port on each of `hosts` (container or service names). */
export const dials = (hosts: readonly string[], port: number): string[] => hosts.map((h) => `${h}:${port}`);

/** An `internal` route's certificate comes from the proxy's local CA, not from a public ACME CA. */
export function tlsPolicy(route: PlannedRoute): Record<string, unknown> {
  return { "@id": tlsPolicyId(route.id), subjects: [route.host], issuers: [{ module: "internal" }] };
}

/** Which of kaupang's servers a route belongs in. */
export const serverOf = (route: Pick<Route, "tls">): string =>
  route.tls === "off" ? proxyServers.http : proxyServers.https;

/**
 * What a new proxy starts with: the admin API on every interface of the
 * container (only the published port reaches it), kaupang's two servers
 * without routes, and a local CA that does not try to install itself into
 * the container's trust store. Later changes go through the admin API, and
 * Caddy saves them (`--resume` restores them after a restart).
 */
export function bootstrapConfig(): Record<string, unknown> {
  return {
    admin: { listen: `0.0.0.0:${proxyContainerPorts.admin}` },
    apps: {
      http: {
        servers: {
          [proxyServers.http]: { listen: [`:${proxyContainerPorts.http}`], routes: [] },
          [proxyServers.https]: { listen: [`:${proxyContainerPorts.https}`], routes: [] },
        },
      },
      pki: { certificate_authorities: { local: { install_trust: false } } },
    },
  };
}

/** Where the bootstrap config is placed inside the proxy container. */
export const bootstrapConfigPath = "/etc/kaupang/caddy.json";

/** The URL a route answers on: scheme from its TLS mode, the proxy's host port unless it is the scheme's default. */
function routeUrl(route: Route, backend: BackendName, proxy: ProxySettings): string {
  const https = route.tls !== "off";
  const port = backend === "kubernetes" ? undefined : https ? proxy.httpsPort : proxy.httpPort;
  const shown = port === undefined || port === (https ? 443 : 80) ? "" : `:${port}`;
  return `${https ? "https" : "http"}://${route.host}${shown}${route.path === "/" ? "/" : route.path}`;
}

/** The routes of an environment's services, in service order, as the plan records them. */
export function plannedRoutes(model: Model, env: Environment): PlannedRoute[] {
  const proxy = proxyOf(model.target);
  return Object.values(env.services).flatMap((service) =>
    (service.routes ?? []).map((route, index) => ({
      service: service.name,
      ...route,
      id: routeId(model.project, env.name, service.name, index),
      url: routeUrl(route, model.target.backend, proxy),
    })),
  );
}

/**
 * A routed service on compose (and on swarm with host-mode ports) is reached
 * through the proxy; a published host port would keep its new version from
 * starting beside the old one.
 */
export function checkRoutedPorts(model: Model, env: Environment, service: Service): void {
  if (!service.routes) return;
  const index = service.ports.findIndex((p) => p.published !== undefined);
  if (index === -1) return;
  if (model.target.backend === "swarm" && model.target.swarm?.portMode !== "host") return;
  const port = service.ports[index]!;
  throw unsupported(
    model,
    env,
    service,
    "ports",
    `a routed service is reached through the proxy: publishing host port ${port.published} would keep its new version from starting beside the old one (write "${port.target}" to expose the port without publishing it)`,
  );
}
