/**
 * The admin-API requests that make a Caddy config hold an environment's
 * routes, as pure functions of the config read from the proxy: kaupang
 * changes only the route objects, TLS policies and server it owns (ids under
 * `kaupang.<project>.<environment>.`), each with the narrowest request
 * (PATCH /id/…, PUT …/routes/N, DELETE /id/…), and leaves every other route
 * where it is. --dry-run shows the same requests against a proxy that does
 * not have the environment yet.
 */
import { showValue } from "../base/errors.js";
import type { ProxySettings } from "../base/target.js";
import {
  type PlannedRoute,
  projectRoutePrefix,
  proxyContainerPorts,
  proxyServers,
  routeSpecificity,
  serverOf,
  tlsPolicy,
  tlsPolicyId,
} from "../render/routes.js";
import type { PlanCommand } from "./types.js";

export interface AdminRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path on the admin API: /config/…, /id/…, /reverse_proxy/upstreams. */
  path: string;
  body?: unknown;
}

/** An admin request as the `curl` command that does the same (kaupang sends it itself). */
export function adminCommand(proxy: ProxySettings, request: AdminRequest, description: string): PlanCommand {
  const body =
    request.body === undefined
      ? []
      : ["-H", "Content-Type: application/json", "-d", JSON.stringify(request.body)];
  return {
    argv: [
      "curl",
      "-fsS",
      ...(request.method === "GET" ? [] : ["-X", request.method]),
      ...body,
      `http://${proxy.adminAddress}${request.path}`,
    ],
    description,
  };
}

type Json = Record<string, unknown>;
interface CaddyRoute {
  "@id"?: string;
  match?: { host?: string[]; path?: string[] }[];
}

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const child = (value: unknown, key: string): unknown => (isObject(value) ? value[key] : undefined);
const servers = (config: unknown): Json => {
  const found = child(child(child(config, "apps"), "http"), "servers");
  return isObject(found) ? found : {};
};
const routesOf = (server: unknown): CaddyRoute[] => {
  const routes = child(server, "routes");
  return Array.isArray(routes) ? (routes as CaddyRoute[]) : [];
};
const policiesOf = (config: unknown): Json[] => {
  const found = child(child(child(child(config, "apps"), "tls"), "automation"), "policies");
  return Array.isArray(found) ? (found as Json[]) : [];
};
const idOf = (value: unknown): string | undefined => {
  const id = child(value, "@id");
  return typeof id === "string" ? id : undefined;
};
/** JSON with sorted keys, to compare what the proxy has with what kaupang wants. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}
const sameJson = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);
const matchKey = (route: CaddyRoute): string => canonical(route.match ?? []);

/** Every route of every server, with where it sits. */
function allRoutes(config: unknown): { server: string; route: CaddyRoute }[] {
  return Object.entries(servers(config)).flatMap(([server, body]) =>
    routesOf(body).map((route) => ({ server, route })),
  );
}

export interface DesiredRoute {
  route: PlannedRoute;
  /** The Caddy route object to have (from render/routes caddyRoute). */
  object: Json;
}

interface RouteSync {
  requests: { request: AdminRequest; description: string }[];
  /** Routes of the plan that another route of the proxy already answers for (same host and path). */
  conflicts: string[];
}

/** Where a new route goes: before the first route that is not kaupang's, or is kaupang's and less specific. */
function insertIndex(routes: readonly CaddyRoute[], route: PlannedRoute): number {
  const index = routes.findIndex((r) => {
    const id = r["@id"];
    if (!id?.startsWith("kaupang.")) return true;
    const path = r.match?.[0]?.path?.[0];
    return routeSpecificity({ path: path ?? "/" }) < routeSpecificity(route);
  });
  return index === -1 ? routes.length : index;
}

/**
 * The requests that make `config` hold exactly `desired` of the routes under
 * `prefix` (one environment's), plus the project's raw server when given.
 * Order: deletions, TLS policies (so a host never starts with a public CA it
 * would not use), then routes.
 */
export function routeSyncRequests(input: {
  config: unknown;
  prefix: string;
  desired: readonly DesiredRoute[];
  projectServer?: { name: string; body: Json } | undefined;
}): RouteSync {
  const { config, prefix, desired } = input;
  const requests: RouteSync["requests"] = [];
  const wantedIds = new Map(desired.map((d) => [d.route.id, d]));
  const conflicts: string[] = [];
  for (const d of desired) {
    const key = matchKey(d.object as CaddyRoute);
    const other = allRoutes(config).find(
      ({ route }) => !route["@id"]?.startsWith(prefix) && matchKey(route) === key,
    );
    if (other) {
      conflicts.push(
        `${showValue(`${d.route.host}${d.route.path}`)} (service ${d.route.service}) is already routed by ${other.route["@id"] ? `route ${other.route["@id"]}` : "a route kaupang did not add"} in server ${other.server} of the proxy`,
      );
    }
  }
  if (conflicts.length > 0) return { requests, conflicts };

  // Simulated route lists, so insert positions account for earlier requests.
  const lists = new Map<string, CaddyRoute[]>(
    Object.entries(servers(config)).map(([name, body]) => [name, [...routesOf(body)]]),
  );
  for (const [server, routes] of lists) {
    for (const route of [...routes]) {
      const id = route["@id"];
      if (!id?.startsWith(prefix)) continue;
      const wanted = wantedIds.get(id);
      const keep =
        wanted &&
        serverOf(wanted.route) === server &&
        matchKey(route) === matchKey(wanted.object as CaddyRoute);
      if (!keep) {
        requests.push({
          request: { method: "DELETE", path: `/id/${id}` },
          description: `remove route ${id}`,
        });
        routes.splice(routes.indexOf(route), 1);
      }
    }
  }
  const wantedPolicies = new Map(
    desired
      .filter((d) => d.route.tls === "internal")
      .map((d) => [tlsPolicyId(d.route.id), tlsPolicy(d.route)]),
  );
  const policies = policiesOf(config);
  for (const policy of policies) {
    const id = idOf(policy);
    if (id?.startsWith(prefix) && !wantedPolicies.has(id))
      requests.push({
        request: { method: "DELETE", path: `/id/${id}` },
        description: `remove TLS policy ${id}`,
      });
  }

  const newPolicies: Json[] = [];
  for (const [id, policy] of wantedPolicies) {
    const existing = policies.find((p) => idOf(p) === id);
    if (!existing) newPolicies.push(policy);
    else if (!sameJson(existing, policy))
      requests.push({
        request: { method: "PATCH", path: `/id/${id}`, body: policy },
        description: `update TLS policy ${id}`,
      });
  }
  if (newPolicies.length > 0) {
    const tls = child(child(config, "apps"), "tls");
    const automation = child(tls, "automation");
    const describe = `certificates of ${newPolicies.map((p) => (p.subjects as string[]).join(", ")).join(", ")} from the proxy's local CA`;
    if (!isObject(tls))
      requests.push({
        request: {
          method: "POST",
          path: "/config/apps/tls",
          body: { automation: { policies: newPolicies } },
        },
        description: describe,
      });
    else if (!isObject(automation))
      requests.push({
        request: { method: "POST", path: "/config/apps/tls/automation", body: { policies: newPolicies } },
        description: describe,
      });
    else if (!Array.isArray(child(automation, "policies")))
      requests.push({
        request: { method: "POST", path: "/config/apps/tls/automation/policies", body: newPolicies },
        description: describe,
      });
    // First: a policy without subjects (a catch-all) must stay after the specific ones.
    else
      for (const policy of newPolicies)
        requests.push({
          request:
            (child(automation, "policies") as unknown[]).length === 0
              ? { method: "POST", path: "/config/apps/tls/automation/policies", body: policy }
              : { method: "PUT", path: "/config/apps/tls/automation/policies/0", body: policy },
          description: describe,
        });
  }

  const hasHttpApp = isObject(child(child(config, "apps"), "http"));
  const created = new Map<string, Json[]>();
  const withRoutesKey = new Set(
    Object.entries(servers(config))
      .filter(([, body]) => Array.isArray(child(body, "routes")))
      .map(([name]) => name),
  );
  for (const d of desired) {
    const server = serverOf(d.route);
    const list = lists.get(server);
    if (!list) {
      const pending = created.get(server) ?? [];
      pending.push(d.object);
      created.set(server, pending);
      continue;
    }
    const existing = list.find((r) => r["@id"] === d.route.id);
    if (existing) {
      if (!sameJson(existing, d.object))
        requests.push({
          request: { method: "PATCH", path: `/id/${d.route.id}`, body: d.object },
          description: `update route ${d.route.url} → ${d.route.service}`,
        });
      continue;
    }
    const index = insertIndex(list, d.route);
    const path = `/config/apps/http/servers/${server}/routes`;
    // PUT inserts before an element; at the end (Caddy refuses index == length) POST appends,
    // and POST of a list creates a missing `routes`.
    requests.push({
      request: !withRoutesKey.has(server)
        ? { method: "POST", path, body: [d.object] }
        : index === list.length
          ? { method: "POST", path, body: d.object }
          : { method: "PUT", path: `${path}/${index}`, body: d.object },
      description: `route ${d.route.url} → ${d.route.service}`,
    });
    withRoutesKey.add(server);
    list.splice(index, 0, d.object as CaddyRoute);
  }
  const serverBodies = [...created].map(([name, routes]) => [
    name,
    {
      listen: [`:${name === proxyServers.http ? proxyContainerPorts.http : proxyContainerPorts.https}`],
      routes,
    },
  ]);
  if (serverBodies.length > 0) {
    const description = `add server ${serverBodies.map(([n]) => n).join(", ")} with routes of this environment`;
    if (!hasHttpApp)
      requests.push({
        request: {
          method: "POST",
          path: "/config/apps/http",
          body: { servers: Object.fromEntries(serverBodies) },
        },
        description,
      });
    else
      for (const [name, body] of serverBodies)
        requests.push({
          request: { method: "POST", path: `/config/apps/http/servers/${name}`, body },
          description,
        });
  }

  const project = input.projectServer;
  if (project) {
    const existing = servers(config)[project.name];
    if (!sameJson(existing, project.body))
      requests.push({
        request:
          existing === undefined && hasHttpApp
            ? { method: "POST", path: `/config/apps/http/servers/${project.name}`, body: project.body }
            : existing === undefined
              ? {
                  method: "POST",
                  path: "/config/apps/http",
                  body: { servers: { [project.name]: project.body } },
                }
              : { method: "PATCH", path: `/config/apps/http/servers/${project.name}`, body: project.body },
        description: `the target's own Caddy server ${project.name}`,
      });
  }
  return { requests, conflicts };
}

interface RouteRemoval {
  requests: { request: AdminRequest; description: string }[];
  /** Whether any route of the project is left once these ran (the proxy stays on its network). */
  projectHasRoutes: boolean;
  /** Whether any route at all is left in the proxy (kaupang's or anyone's): an empty proxy is removed. */
  proxyHasRoutes: boolean;
}

/**
 * The requests that take one environment's routes and TLS policies out of
 * `config` (every id under `prefix`), and the project's raw server once the
 * project has no route left.
 */
export function routeRemovalRequests(input: {
  config: unknown;
  project: string;
  prefix: string;
  projectServer: string;
}): RouteRemoval {
  const { config, prefix } = input;
  const requests: RouteRemoval["requests"] = [];
  const left = allRoutes(config).filter(({ route }) => {
    const id = route["@id"];
    if (id?.startsWith(prefix)) {
      requests.push({ request: { method: "DELETE", path: `/id/${id}` }, description: `remove route ${id}` });
      return false;
    }
    return true;
  });
  for (const policy of policiesOf(config)) {
    const id = idOf(policy);
    if (id?.startsWith(prefix))
      requests.push({
        request: { method: "DELETE", path: `/id/${id}` },
        description: `remove TLS policy ${id}`,
      });
  }
  const projectPrefix = projectRoutePrefix(input.project);
  const projectHasRoutes = left.some(({ route }) => route["@id"]?.startsWith(projectPrefix));
  let remaining = left;
  if (!projectHasRoutes && servers(config)[input.projectServer] !== undefined) {
    requests.push({
      request: { method: "DELETE", path: `/config/apps/http/servers/${input.projectServer}` },
      description: `remove the project's own Caddy server ${input.projectServer}`,
    });
    remaining = left.filter(({ server }) => server !== input.projectServer);
  }
  return { requests, projectHasRoutes, proxyHasRoutes: remaining.length > 0 };
}
