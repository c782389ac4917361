import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
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

  it("refuses to start on a --catalog it cannot read, saying why without quoting the file", async () => {
    const cwd = flagship();
    await expect(start(cwd, { catalog: join(cwd, "nope.json") })).rejects.toThrow(
      new RegExp(`^--catalog ${join(cwd, "nope.json")}: catalog file .*nope\\.json does not exist`),
    );
    writeFileSync(join(cwd, "broken.json"), '{ "services": TOPSECRET-VALUE }');
    const broken = await start(cwd, { catalog: join(cwd, "broken.json") }).catch((e: Error) => e);
    expect(String(broken)).toMatch(/broken\.json: invalid JSON$/);
    expect(String(broken)).not.toContain("TOPSECRET");
  });

  it("says clearly when the catalog breaks after the start, without quoting the file", async () => {
    const cwd = flagship();
    writeFileSync(join(cwd, "mine.json"), json({ services: { x: "busybox" } }));
    const { call } = await start(cwd, { catalog: join(cwd, "mine.json") });
    expect((await call<CatalogResponse>("/api/catalog")).body.ok).toBe(true);
    writeFileSync(join(cwd, "mine.json"), '{ "services": TOPSECRET-VALUE }');
    const b = (await call<CatalogResponse>("/api/catalog/reload", {})).body;
    expect(b.ok).toBe(false);
    if (!b.ok) {
      expect(b.error).toMatch(/mine\.json: invalid JSON$/);
      expect(JSON.stringify(b)).not.toContain("TOPSECRET");
    }
  });

  it("plans and exports --catalog presets the project's config does not list", async () => {
    const cwd = testdir({
      "kaupang.config.json": json({ project: "shop" }),
      "presets.json": json({ services: { cache: { image: "valkey/valkey:8-alpine", ports: ["6379"] } } }),
    });
    const { call } = await start(cwd, { catalog: join(cwd, "presets.json") });
    const drawn: DraftEnvironment = {
      services: { cache: { $catalog: "cache" }, web: { image: "nginx", dependsOn: ["cache"] } },
    };
    const plan = (await call<PlanResponse>("/api/plan", { name: "app", target: "local", environment: drawn }))
      .body;
    expect(plan.problems).toEqual([]);
    expect(plan.ok).toBe(true);
    if (plan.ok) expect(plan.plan!.artifact.content).toContain("image: valkey/valkey:8-alpine");
    const exported = (
      await call<ExportResponse>("/api/export", { name: "app", environment: drawn, format: "json" })
    ).body;
    expect(exported.ok).toBe(true);
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

  it("works without a project: plans and exports the --catalog's presets, and says why it cannot save", async () => {
    const dir = join(testdir({ "presets.json": json({ services: { cache: "valkey/valkey:8-alpine" } }) }));
    const { call } = await start(dir, { catalog: join(dir, "presets.json") });
    const session = (await call<SessionResponse>("/api/session")).body;
    expect(session.project).toBeUndefined();
    expect(session.projectError).toMatch(
      /^no kaupang\.config\.\* in kaupang-test-\w+ or above: drawings plan and export as project "kaupang-test-\w+"; saving needs a project \(kaupang init\)$/,
    );
    const catalog = (await call<CatalogResponse>("/api/catalog")).body;
    expect(catalog.ok && catalog.presets.map((p) => p.name)).toEqual(["cache"]);
    const drawn: DraftEnvironment = { services: { cache: { $catalog: "cache" } } };
    const plan = (await call<PlanResponse>("/api/plan", { name: "app", target: "local", environment: drawn }))
      .body;
    expect(plan.ok).toBe(true);
    const exported = (
      await call<ExportResponse>("/api/export", { name: "app", environment: drawn, format: "ts" })
    ).body;
    expect(exported.ok && exported.content).toContain('cache: use("cache")');
    const save = await call<{ error: string }>("/api/save", {
      name: "app",
      environment: drawn,
      format: "ts",
    });
    expect(save.status).toBe(409);
    expect(save.body.error).toBe(
      "there is no kaupang project here to save into: run kaupang init first, or use Export",
    );
    expect(existsSync(join(dir, "environments"))).toBe(false);
  });

  it("prints an address other machines can open when it listens on every interface", async () => {
    const studio = await startStudio({ cwd: testdir({}), port: 0, host: "0.0.0.0" });
    running.push(studio);
    const { networkInterfaces } = await import("node:os");
    const external = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i && !i.internal && i.family === "IPv4")
      .map((i) => i!.address);
    expect(studio.urls.at(-1)).toBe(`http://127.0.0.1:${studio.port}/?token=${studio.token}`);
    expect(studio.urls.slice(0, -1)).toEqual(
      external.map((a) => `http://${a}:${studio.port}/?token=${studio.token}`),
    );
    expect(studio.url).toBe(studio.urls[0]);
    // The address printed first answers, token and all.
    const response = await fetch(new URL(`/api/session${new URL(studio.url).search}`, studio.url));
    expect(response.status).toBe(200);
  });

  it("answers only to its own address in Host, even with the token (DNS rebinding)", async () => {
    const { studio } = await start(flagship());
    const get = (host: string, origin?: string) =>
      new Promise<{ status: number; body: string }>((done, fail) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: studio.port,
            path: `/api/session?token=${studio.token}`,
            headers: { Host: host, ...(origin ? { Origin: origin } : {}) },
          },
          (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => done({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on("error", fail);
        req.end();
      });
    const evil = await get(`evil.example:${studio.port}`);
    expect(evil.status).toBe(421);
    expect(evil.body).toContain(`Host \\"evil.example:${studio.port}\\" is not this studio's address`);
    expect(evil.body).not.toContain("longhall");
    // The Origin check compares with the served address, so a rebinding page cannot pass it either.
    const rebound = await get(`evil.example:${studio.port}`, `http://evil.example:${studio.port}`);
    expect(rebound.status).toBe(421);
    expect((await get(`127.0.0.1:${studio.port}`)).status).toBe(200);
    expect((await get(`localhost:${studio.port}`)).status).toBe(200);
    expect((await get(`127.0.0.1:${studio.port + 1}`)).status).toBe(421);
    expect((await get(`localhost:${studio.port}`, `http://evil.example:${studio.port}`)).status).toBe(403);
  });

  it("plans without reading an environment file that resolves outside --cwd", async () => {
    const outside = testdir({});
    const canary = join(outside, "canary");
    writeFileSync(
      join(outside, "leak.ts"),
      `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(canary)}, "read");\nexport default { services: { leaked: { image: "outside-marker:1" } } };\n`,
    );
    const cwd = flagship();
    symlinkSync(join(outside, "leak.ts"), join(cwd, "environments/leak.ts"));
    const { call } = await start(cwd);
    const planned = await call<PlanResponse>("/api/plan", {
      name: "hall",
      target: "local",
      environment: { dependsOn: ["leak"], services: { gate: { image: "nginx:1.27" } } },
    });
    expect(planned.body.ok).toBe(false);
    expect(JSON.stringify(planned.body)).toMatch(
      /environments\/leak\.ts: resolves outside the project directory [^;"]+; it is not read/,
    );
    expect(JSON.stringify(planned.body)).not.toContain("outside-marker");
    expect(existsSync(canary)).toBe(false);
  });

  it("saves through a random, exclusively created temp file: a planted symlink is not written through", async () => {
    const outside = testdir({ "victim.txt": "untouched\n" });
    const cwd = flagship();
    const victim = join(outside, "victim.txt");
    // Every name the old fixed scheme could use, planted as a symlink to a file outside --cwd.
    for (const name of [`.hall.${process.pid}.studio-tmp`, ".hall.studio-tmp", ".hall.tmp"])
      symlinkSync(victim, join(cwd, "environments", name));
    const { call } = await start(cwd);
    const saved = await call<SaveResponse>("/api/save", { name: "hall", environment: hall, format: "ts" });
    expect(saved.body).toMatchObject({ ok: true, file: "environments/hall.ts" });
    expect(readFileSync(victim, "utf8")).toBe("untouched\n");
    expect(readFileSync(join(cwd, "environments/hall.ts"), "utf8")).toContain('"runes-cache"');
    // No temp file left behind: only the planted links remain.
    const temps = readdirSync(join(cwd, "environments")).filter((f) => f.startsWith(".hall."));
    expect(temps.sort()).toEqual([`.hall.${process.pid}.studio-tmp`, ".hall.studio-tmp", ".hall.tmp"]);
  });

  it("answers an oversized body with 413, not a reset connection", async () => {
    const { studio } = await start(flagship());
    const body = JSON.stringify({
      name: "x",
      target: "local",
      environment: { services: {} },
      pad: "x".repeat(3 * 1024 * 1024),
    });
    const response = await fetch(`http://127.0.0.1:${studio.port}/api/plan?token=${studio.token}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toBe(
      "the request body is over the 2 MiB limit",
    );
  });
});
