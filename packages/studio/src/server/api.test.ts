import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import type {
  CatalogResponse,
  DraftEnvironment,
  ExportResponse,
  ImportResponse,
  PlanResponse,
  SaveResponse,
  SessionResponse,
} from "../index.js";
import { type Studio, startStudio } from "../index.js";

const longhall = fileURLToPath(new URL("../../../../examples/longhall", import.meta.url));
const running: Studio[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.close();
});

/** A copy of the flagship example: the studio may write into it. */
function flagship(): string {
  const dir = testdir({});
  cpSync(longhall, dir, { recursive: true, filter: (src) => !src.includes(".kaupang") });
  return dir;
}

async function start(cwd: string, options: { catalog?: string; webDir?: string } = {}) {
  const studio = await startStudio({ cwd, port: 0, ...options });
  running.push(studio);
  const base = `http://127.0.0.1:${studio.port}`;
  const call = async <T>(path: string, body?: unknown, init: RequestInit = {}) => {
    const response = await fetch(`${base}${path}?token=${studio.token}`, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
      ...init,
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  return { studio, base, call };
}

/** runes-cache → saga-store → gate, drawn as `hall`, next to the flagship's environments. */
const hall: DraftEnvironment = {
  dependsOn: ["saga"],
  services: {
    "runes-cache": { $catalog: "runes-cache" },
    "saga-store": { $catalog: "saga-store", dependsOn: ["runes-cache"] },
    gate: {
      image: "nginx:1.27",
      ports: ["8088:80"],
      env: { HALL_KEY: { $secret: "HALL_KEY" }, MODE: "open" },
      dependsOn: ["saga-store"],
    },
  },
};

describe("studio API", () => {
  it("answers nothing without the run's token, and binds to 127.0.0.1", async () => {
    const { studio, base } = await start(flagship());
    expect(studio.host).toBe("127.0.0.1");
    expect(studio.url).toBe(`http://127.0.0.1:${studio.port}/?token=${studio.token}`);
    for (const path of ["/api/session", "/api/session?token=", "/api/session?token=wrong", "/api/catalog"]) {
      expect((await fetch(`${base}${path}`)).status).toBe(403);
    }
    const post = await fetch(`${base}/api/plan`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "x", target: "local", environment: { services: {} } }),
    });
    expect(post.status).toBe(403);
    const crossSite = await fetch(`${base}/api/session?token=${studio.token}`, {
      headers: { Origin: "http://evil.example" },
    });
    expect(crossSite.status).toBe(403);
  });

  it("serves the page's files and nothing outside them", async () => {
    const web = testdir({ "index.html": "<!doctype html><title>studio</title>", "assets/a.js": "1" });
    const { base } = await start(flagship(), { webDir: web });
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(await page.text()).toContain("<title>studio</title>");
    expect((await fetch(`${base}/assets/a.js`)).headers.get("content-type")).toContain("text/javascript");
    for (const path of ["/../package.json", "/%2e%2e/package.json", "/assets/..%2f..%2fpackage.json"]) {
      expect((await fetch(`${base}${path}`)).status).toBe(404);
    }
  });

  it("lists the project, its environments and targets", async () => {
    const { call } = await start(flagship());
    const { body } = await call<SessionResponse>("/api/session");
    expect(body.project).toMatchObject({
      name: "longhall",
      environments: [
        { name: "market", file: "environments/market.ts" },
        { name: "runes", file: "environments/runes.ts" },
        { name: "saga", file: "environments/saga.ts" },
      ],
      targets: ["local", "vanaheim-swarm", "asgard-k8s"],
      defaultTarget: "local",
    });
  });

  it("serves the catalog it was given, with each preset's image and ports", async () => {
    const cwd = flagship();
    const { call } = await start(cwd, { catalog: join(cwd, "catalog.json") });
    const { body } = await call<CatalogResponse>("/api/catalog");
    expect(body.ok).toBe(true);
    if (!body.ok) return;
    expect(body.presets.map((p) => [p.name, p.image, p.ports])).toEqual([
      ["runes-cache", "127.0.0.1:5000/kaupang-test/busybox:latest", ["6379"]],
      ["saga-store", "127.0.0.1:5000/kaupang-test/busybox:latest", ["8080"]],
    ]);
  });

  it("says clearly when the catalog cannot be loaded, without quoting the file", async () => {
    const cwd = flagship();
    const missing = await start(cwd, { catalog: join(cwd, "nope.json") });
    const a = (await missing.call<CatalogResponse>("/api/catalog")).body;
    expect(a).toMatchObject({ ok: false });
    if (!a.ok) expect(a.error).toMatch(/catalog file .*nope\.json does not exist/);

    writeFileSync(join(cwd, "broken.json"), '{ "services": TOPSECRET-VALUE }');
    const broken = await start(cwd, { catalog: join(cwd, "broken.json") });
    const b = (await broken.call<CatalogResponse>("/api/catalog")).body;
    expect(b.ok).toBe(false);
    if (!b.ok) {
      expect(b.error).toMatch(/broken\.json: invalid JSON$/);
      expect(JSON.stringify(b)).not.toContain("TOPSECRET");
    }
  });

  it("plans the drawing with the core: waves and the rendered compose file", async () => {
    const { call } = await start(flagship());
    const { body } = await call<PlanResponse>("/api/plan", {
      name: "hall",
      target: "local",
      environment: hall,
    });
    expect(body.ok).toBe(true);
    expect(body.file).toBe("environments/hall.ts");
    expect(body.plan!.environmentOrder).toEqual(["saga", "hall"]);
    expect(body.plan!.waves).toEqual([["runes-cache"], ["saga-store"], ["gate"]]);
    expect(body.plan!.secrets).toEqual(["HALL_KEY"]);
    expect(body.plan!.artifact.path).toBe(".kaupang/local/hall.compose.yaml");
    expect(body.plan!.artifact.content).toContain('HALL_KEY: "${HALL_KEY}"');

    const swarm = await call<PlanResponse>("/api/plan", {
      name: "hall",
      target: "vanaheim-swarm",
      environment: hall,
    });
    expect(swarm.body.plan).toMatchObject({ backend: "swarm", target: "vanaheim-swarm" });
  });

  it("places the core's problems on the service and field they concern", async () => {
    const { call } = await start(flagship());
    const plan = async (environment: unknown, name = "hall") =>
      (await call<PlanResponse>("/api/plan", { name, target: "local", environment })).body;

    const ports = await plan({
      services: { gate: { image: "nginx", ports: ["eighty"] }, other: { imag: "x" } },
    });
    expect(ports.ok).toBe(false);
    expect(ports.problems).toEqual([
      expect.objectContaining({
        scope: "service",
        service: "gate",
        field: "ports",
        path: ["services", "gate", "ports", 0],
      }),
      expect.objectContaining({
        scope: "service",
        service: "other",
        field: "imag",
        message: expect.stringContaining('did you mean "image"'),
      }),
    ]);

    const noImage = await plan({ services: { gate: {} } });
    expect(noImage.problems).toEqual([
      expect.objectContaining({
        scope: "service",
        service: "gate",
        message: expect.stringContaining("needs an image"),
      }),
    ]);
    expect(noImage.problems[0]!.field).toBeUndefined();

    const unknownEnv = await plan({ dependsOn: ["sagaa"], services: {} });
    expect(unknownEnv.problems[0]).toMatchObject({ scope: "environment", field: "dependsOn" });
    expect(unknownEnv.problems[0]!.message).toContain('did you mean "saga"');

    const badName = await plan({ services: {} }, "Hall");
    expect(badName.problems[0]).toMatchObject({ scope: "environment", field: "name" });

    const clash = await plan({ dependsOn: "saga", services: { store: { image: "x" } } });
    expect(clash.problems[0]).toMatchObject({ scope: "service", service: "store" });

    const unknownPreset = await plan({ services: { db: { $catalog: "postgres" } } });
    expect(unknownPreset.problems[0]).toMatchObject({ scope: "service", service: "db" });
    expect(unknownPreset.problems[0]!.message).toContain('catalog preset "postgres" not found');
  });

  it("reports a drawn cycle, and export refuses it", async () => {
    const { call } = await start(flagship());
    const cyclic = structuredClone(hall);
    (cyclic.services["runes-cache"] as { dependsOn?: string[] }).dependsOn = ["gate"];
    const { body } = await call<PlanResponse>("/api/plan", {
      name: "hall",
      target: "local",
      environment: cyclic,
    });
    expect(body.ok).toBe(false);
    expect(body.cycle).toEqual({ kind: "services", nodes: ["gate", "saga-store", "runes-cache", "gate"] });
    const exported = await call<ExportResponse>("/api/export", {
      name: "hall",
      environment: cyclic,
      format: "ts",
    });
    expect(exported.body.ok).toBe(false);
    const saved = await call<SaveResponse>("/api/save", { name: "hall", environment: cyclic, format: "ts" });
    expect(saved.body.ok).toBe(false);

    const envCycle = await call<PlanResponse>("/api/plan", {
      name: "saga",
      target: "local",
      environment: { dependsOn: ["market"], services: { store: "x" } },
    });
    expect(envCycle.body.cycle).toEqual({ kind: "environments", nodes: ["market", "saga", "market"] });
  });

  it("never overwrites without confirmation, and replaces the other format's file when confirmed", async () => {
    const cwd = flagship();
    const { call } = await start(cwd);
    const save = (format: "ts" | "json", overwrite?: boolean) =>
      call<SaveResponse>("/api/save", { name: "hall", environment: hall, format, overwrite });
    expect((await save("ts")).body).toEqual({ ok: true, file: "environments/hall.ts" });
    const again = (await save("ts")).body;
    expect(again).toMatchObject({ ok: false, exists: "environments/hall.ts" });
    const json = (await save("json")).body;
    expect(json).toMatchObject({ ok: false, exists: "environments/hall.ts" });
    expect((await save("json", true)).body).toEqual({
      ok: true,
      file: "environments/hall.json",
      replaced: "environments/hall.ts",
    });
    expect(existsSync(join(cwd, "environments/hall.ts"))).toBe(false);
    expect(
      JSON.parse(readFileSync(join(cwd, "environments/hall.json"), "utf8")).services.gate.env.HALL_KEY,
    ).toEqual({
      $secret: "HALL_KEY",
    });
    const session = (await call<SessionResponse>("/api/session")).body;
    expect(session.project!.environments.map((e) => e.file)).toContain("environments/hall.json");
  });

  it("imports what it wrote and exports it again byte for byte (TypeScript and JSON)", async () => {
    const cwd = flagship();
    const { call } = await start(cwd);
    for (const format of ["ts", "json"] as const) {
      const name = `hall-${format}`;
      // Service names must differ between the two environments: both depend on saga.
      const renamed = JSON.parse(
        JSON.stringify(hall).replaceAll(
          /(?<!"\$catalog":)"(runes-cache|saga-store|gate)"/g,
          `"$1-${format}"`,
        ),
      );
      expect(Object.keys(renamed.services)).toEqual([
        `runes-cache-${format}`,
        `saga-store-${format}`,
        `gate-${format}`,
      ]);
      const saved = (await call<SaveResponse>("/api/save", { name, environment: renamed, format })).body;
      expect(saved.ok).toBe(true);
      const file = readFileSync(join(cwd, `environments/${name}.${format}`), "utf8");
      const imported = (await call<ImportResponse>("/api/import", { name })).body;
      expect(imported).toMatchObject({
        ok: true,
        name,
        format,
        roundTrips: true,
        file: `environments/${name}.${format}`,
      });
      if (!imported.ok) return;
      const exported = (
        await call<ExportResponse>("/api/export", { name, environment: imported.environment, format })
      ).body;
      expect(exported.ok && exported.content).toBe(file);
    }
  });

  it("imports a hand-written file with its secret references kept as references", async () => {
    const { call } = await start(flagship());
    const imported = (await call<ImportResponse>("/api/import", { name: "market" })).body;
    expect(imported).toMatchObject({ ok: true, format: "ts", roundTrips: false });
    if (!imported.ok) return;
    const web = imported.environment.services.web as { env: Record<string, unknown> };
    expect(web.env.JARL_KEY).toEqual({ $secret: "LONGHALL_JARL_KEY" });
    const saga = (await call<ImportResponse>("/api/import", { name: "saga" })).body;
    expect(saga.ok && saga.environment.services.store).toEqual({
      $catalog: "saga-store",
      env: { SAGA_RETENTION: "forever" },
    });
  });

  it("names the file but never quotes it when an import fails", async () => {
    const cwd = flagship();
    writeFileSync(join(cwd, "environments/bad.json"), '{ "services": { "x": TOPSECRET } }');
    writeFileSync(
      join(cwd, "environments/odd.json"),
      json({ services: { x: { image: "y", ports: ["TOPSECRET"] } } }),
    );
    writeFileSync(join(cwd, "environments/typo.ts"), "export default { services: { TOPSECRET x } };\n");
    const { call } = await start(cwd);
    for (const name of ["bad", "odd", "typo"]) {
      const { body } = await call<ImportResponse>("/api/import", { name });
      expect(body.ok).toBe(false);
      expect(JSON.stringify(body)).not.toContain("TOPSECRET");
      if (!body.ok) expect(body.error).toMatch(new RegExp(`^environments/${name}\\.(json|ts): `));
    }
    expect((await call<ImportResponse>("/api/import", { name: "../kaupang.config" })).body).toMatchObject({
      ok: false,
    });
  });

  it("refuses to write outside --cwd", async () => {
    const outside = testdir({});
    const cwd = testdir({
      "kaupang.config.json": json({ project: "p", environments: `${outside}/envs` }),
    });
    mkdirSync(join(outside, "envs"));
    const { call } = await start(cwd);
    const saved = await call<SaveResponse>("/api/save", {
      name: "app",
      environment: { services: { a: "x" } },
      format: "ts",
    });
    expect(saved.body).toMatchObject({ ok: false, problems: [{ scope: "project" }] });
    expect(JSON.stringify(saved.body)).toContain("is outside --cwd");
    expect(existsSync(join(outside, "envs/app.ts"))).toBe(false);
    const bad = await call<SaveResponse>("/api/save", {
      name: "../app",
      environment: { services: {} },
      format: "ts",
    });
    expect(bad.body.ok).toBe(false);
  });

  it("rejects malformed requests", async () => {
    const { call, base, studio } = await start(flagship());
    expect((await call("/api/plan", { name: 1, target: "local", environment: {} })).status).toBe(400);
    expect(
      (await call("/api/export", { name: "a", environment: { services: {} }, format: "yaml" })).status,
    ).toBe(400);
    const text = await fetch(`${base}/api/plan?token=${studio.token}`, { method: "POST", body: "{}" });
    expect(text.status).toBe(415);
    expect((await call("/api/nothing")).status).toBe(404);
  });

  it("works without a project, saying why", async () => {
    const { call } = await start(testdir({}));
    const session = (await call<SessionResponse>("/api/session")).body;
    expect(session.project).toBeUndefined();
    expect(session.projectError).toMatch(/no kaupang\.config/);
    const catalog = (await call<CatalogResponse>("/api/catalog")).body;
    expect(catalog.ok).toBe(false);
  });
});
