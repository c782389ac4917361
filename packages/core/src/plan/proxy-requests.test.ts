import { describe, expect, it } from "vitest";
import { bootstrapConfig, caddyRoute, type PlannedRoute } from "../render/routes.js";
import { type DesiredRoute, routeRemovalRequests, routeSyncRequests } from "./proxy-requests.js";

const route = (over: Partial<PlannedRoute> = {}): PlannedRoute => ({
  service: "web",
  host: "shop.example.com",
  path: "/",
  port: 8080,
  tls: "off",
  id: "kaupang.shop.app.web.0",
  url: "http://shop.example.com/",
  ...over,
});
const desired = (r: PlannedRoute, upstreams = ["shop-app-web-1"]): DesiredRoute => ({
  route: r,
  object: caddyRoute(
    r,
    upstreams.map((u) => `${u}:${r.port}`),
  ),
});
const handAdded = {
  match: [{ host: ["manual.example.com"] }],
  handle: [{ handler: "static_response", body: "hi" }],
};

/** A config whose kaupang.http server holds `routes`. */
const withRoutes = (routes: unknown[], extra: Record<string, unknown> = {}) => {
  const config = bootstrapConfig() as { apps: { http: { servers: Record<string, { routes: unknown[] }> } } };
  config.apps.http.servers["kaupang.http"]!.routes = routes;
  return { ...config, ...extra };
};
const prefix = "kaupang.shop.app.";
const shown = (sync: { requests: { request: { method: string; path: string } }[] }) =>
  sync.requests.map(({ request }) => `${request.method} ${request.path}`);

describe("route sync requests", () => {
  it("inserts a new route before routes it does not own, and leaves them as they are", () => {
    const sync = routeSyncRequests({ config: withRoutes([handAdded]), prefix, desired: [desired(route())] });
    expect(sync.conflicts).toEqual([]);
    expect(shown(sync)).toEqual(["PUT /config/apps/http/servers/kaupang.http/routes/0"]);
    expect(sync.requests[0]!.request.body).toEqual(desired(route()).object);
  });

  it("sends nothing for a route the proxy already has, and one PATCH of the route when its upstreams changed", () => {
    const current = desired(route()).object;
    expect(
      shown(routeSyncRequests({ config: withRoutes([current]), prefix, desired: [desired(route())] })),
    ).toEqual([]);
    const moved = routeSyncRequests({
      config: withRoutes([handAdded, current]),
      prefix,
      desired: [desired(route(), ["shop-app-web-2"])],
    });
    expect(shown(moved)).toEqual(["PATCH /id/kaupang.shop.app.web.0"]);
  });

  it("deletes only this environment's routes that are no longer configured", () => {
    const old = desired(route({ id: "kaupang.shop.app.api.0", host: "api.example.com" })).object;
    const otherEnv = desired(route({ id: "kaupang.shop.admin.web.0", host: "admin.example.com" })).object;
    const sync = routeSyncRequests({
      config: withRoutes([old, otherEnv, handAdded]),
      prefix,
      desired: [desired(route())],
    });
    expect(shown(sync)).toEqual([
      "DELETE /id/kaupang.shop.app.api.0",
      // After the delete, kaupang's block is [admin]; "/" is as specific as it, so it goes after it.
      "PUT /config/apps/http/servers/kaupang.http/routes/1",
    ]);
  });

  it("puts a longer path before a shorter one of kaupang's, so it is tried first", () => {
    const root = desired(route()).object;
    const api = route({ id: "kaupang.shop.app.api.0", service: "api", path: "/api" });
    expect(
      shown(
        routeSyncRequests({ config: withRoutes([root]), prefix, desired: [desired(route()), desired(api)] }),
      ),
    ).toEqual(["PUT /config/apps/http/servers/kaupang.http/routes/0"]);
  });

  it("reports a route another owner already has for the same host and path, and sends nothing", () => {
    const taken = { ...handAdded, match: [{ host: ["shop.example.com"] }] };
    const sync = routeSyncRequests({ config: withRoutes([taken]), prefix, desired: [desired(route())] });
    expect(sync.requests).toEqual([]);
    expect(sync.conflicts).toEqual([
      '"shop.example.com/" (service web) is already routed by a route kaupang did not add in server kaupang.http of the proxy',
    ]);
    const otherProject = desired(route({ id: "kaupang.other.app.web.0" })).object;
    expect(
      routeSyncRequests({ config: withRoutes([otherProject]), prefix, desired: [desired(route())] })
        .conflicts[0],
    ).toMatch(/already routed by route kaupang\.other\.app\.web\.0/);
  });

  it("an internal route gets its TLS policy before the route, creating the tls app when missing", () => {
    const secure = route({ tls: "internal", url: "https://shop.example.com/" });
    const sync = routeSyncRequests({ config: bootstrapConfig(), prefix, desired: [desired(secure)] });
    expect(shown(sync)).toEqual([
      "POST /config/apps/tls",
      "POST /config/apps/http/servers/kaupang.https/routes",
    ]);
    expect(sync.requests[0]!.request.body).toEqual({
      automation: {
        policies: [
          {
            "@id": "kaupang.shop.app.web.0.tls",
            subjects: ["shop.example.com"],
            issuers: [{ module: "internal" }],
          },
        ],
      },
    });
    // With other policies present, it goes first (a catch-all policy stays last).
    const config = {
      ...bootstrapConfig(),
      apps: { ...(bootstrapConfig().apps as object), tls: { automation: { policies: [{ issuers: [] }] } } },
    };
    expect(shown(routeSyncRequests({ config, prefix, desired: [desired(secure)] }))[0]).toBe(
      "PUT /config/apps/tls/automation/policies/0",
    );
  });

  it("moves a route between servers when its tls mode changes, and drops a policy no longer needed", () => {
    const secure = route({ tls: "internal" });
    const before = {
      ...withRoutes([]),
    } as Record<string, unknown>;
    const apps = (before.apps as Record<string, unknown>) ?? {};
    (apps.http as { servers: Record<string, { routes: unknown[] }> }).servers["kaupang.https"]!.routes = [
      desired(secure).object,
    ];
    apps.tls = {
      automation: { policies: [{ "@id": "kaupang.shop.app.web.0.tls", subjects: ["shop.example.com"] }] },
    };
    expect(shown(routeSyncRequests({ config: before, prefix, desired: [desired(route())] }))).toEqual([
      "DELETE /id/kaupang.shop.app.web.0",
      "DELETE /id/kaupang.shop.app.web.0.tls",
      // An empty list: Caddy refuses PUT at index 0 == length, POST appends.
      "POST /config/apps/http/servers/kaupang.http/routes",
    ]);
  });

  it("creates the http app and servers on a proxy that lost them, and installs the project's own server", () => {
    const sync = routeSyncRequests({
      config: null,
      prefix,
      desired: [desired(route())],
      projectServer: { name: "kaupang.shop", body: { listen: [":8081"], routes: [] } },
    });
    expect(shown(sync)).toEqual(["POST /config/apps/http", "POST /config/apps/http"]);
    expect(sync.requests[0]!.request.body).toMatchObject({
      servers: { "kaupang.http": { listen: [":80"], routes: [desired(route()).object] } },
    });
  });
});

describe("route removal requests", () => {
  it("removes this environment's routes and policies only, and says what is left", () => {
    const mine = desired(route()).object;
    const sibling = desired(route({ id: "kaupang.shop.admin.web.0", host: "admin.example.com" })).object;
    const removal = routeRemovalRequests({
      config: withRoutes([mine, sibling, handAdded]),
      project: "shop",
      prefix,
      projectServer: "kaupang.shop",
    });
    expect(shown(removal)).toEqual(["DELETE /id/kaupang.shop.app.web.0"]);
    expect(removal.projectHasRoutes).toBe(true);
    expect(removal.proxyHasRoutes).toBe(true);

    const last = routeRemovalRequests({
      config: withRoutes([mine]),
      project: "shop",
      prefix,
      projectServer: "x",
    });
    expect(last).toMatchObject({ projectHasRoutes: false, proxyHasRoutes: false });
    const manual = routeRemovalRequests({
      config: withRoutes([mine, handAdded]),
      project: "shop",
      prefix,
      projectServer: "x",
    });
    expect(manual).toMatchObject({ projectHasRoutes: false, proxyHasRoutes: true });
  });

  it("removes the project's own server with the project's last route", () => {
    const config = withRoutes([desired(route()).object]) as {
      apps: { http: { servers: Record<string, unknown> } };
    };
    config.apps.http.servers["kaupang.shop"] = { listen: [":8081"], routes: [handAdded] };
    const removal = routeRemovalRequests({ config, project: "shop", prefix, projectServer: "kaupang.shop" });
    expect(shown(removal)).toEqual([
      "DELETE /id/kaupang.shop.app.web.0",
      "DELETE /config/apps/http/servers/kaupang.shop",
    ]);
    expect(removal.proxyHasRoutes).toBe(false);
  });
});
