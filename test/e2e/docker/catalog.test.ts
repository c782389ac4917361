import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { baseImage, httpService, project } from "../support/fixture.js";
import {
  cleanupProject,
  freePort,
  kaupang,
  requireDocker,
  sh,
  uniqueProject,
  waitHttp,
} from "../support/kaupang.js";

const names: string[] = [];
const dirs: string[] = [];
let server: Server;
let serverUrl = "";
const served: { auth?: string }[] = [];

beforeAll(async () => {
  requireDocker();
  // A catalog service on loopback: answers presets and solutions, but only with the right token.
  server = createServer((req, res) => {
    served.push({ auth: req.headers.authorization });
    if (req.headers.authorization !== "Bearer let-me-in") {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        services: {
          web: {
            image: `${baseImage().replace(/:latest$/, "")}:latest`,
            command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
          },
        },
        solutions: { shop: { version: "3.1.0", environments: ["front"] } },
      }),
    );
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  serverUrl = `http://127.0.0.1:${port}/catalog`;
});
afterAll(() => {
  server?.close();
  names.forEach(cleanupProject);
  dirs.forEach((d) => {
    rmSync(d, { recursive: true, force: true });
  });
});

describe("catalog sources (real registry, real oras, real HTTP)", () => {
  it("deploys the flagship solution with presets from an OCI catalog pushed to the registry", async () => {
    const work = mkdtempSync(join(tmpdir(), "kaupang-oci-catalog-"));
    dirs.push(work);
    const dir = join(work, "longhall");
    cpSync(fileURLToPath(new URL("../../../examples/longhall", import.meta.url)), dir, { recursive: true });
    const ref = `${process.env.KAUPANG_TEST_REGISTRY}/kaupang-e2e/longhall-catalog:${Date.now()}`;
    const push = sh(["oras", "push", "--plain-http", ref, "catalog.json"], { cwd: dir });
    expect(push.code, push.err).toBe(0);
    const config = join(dir, "kaupang.config.ts");
    writeFileSync(
      config,
      readFileSync(config, "utf8").replace(
        '{ type: "file", path: "./catalog.json" }',
        `{ type: "oci", ref: "${ref}" }`,
      ),
    );
    rmSync(join(dir, "catalog.json"));
    cleanupProject("longhall");
    names.push("longhall");
    const env = { LONGHALL_JARL_KEY: "k" };
    expect((await kaupang(["build", "market", "--push", "--cwd", dir], { env })).code).toBe(0);
    const up = await kaupang(["up", "--solution", "longhall-full", "--cwd", dir], { env });
    expect(up.code, up.stderr).toBe(0);
    expect(await waitHttp("http://127.0.0.1:18090/")).toContain("market of the longhall");
    const store = sh(["docker", "inspect", "-f", "{{.Config.Image}}", "longhall-saga-store-1"]).out;
    expect(store).toMatch(/^127\.0\.0\.1:5000\/kaupang-test\/busybox@sha256:[0-9a-f]{64}$/);
    expect((await kaupang(["down", "market", "--with-deps", "--cwd", dir], { env })).code).toBe(0);
  });

  it("an unreachable http catalog fails with its URL in the message; optional ones are skipped with a warning", async () => {
    const name = uniqueProject("cat");
    names.push(name);
    const url = `http://127.0.0.1:${await freePort()}/nothing-here.json`;
    const env = { front: { services: { web: { $catalog: "web" } } } };
    const failing = project(name, env, { catalog: { sources: [{ type: "http", url }] } });
    const r = await kaupang(["up", "front", "--dry-run", "--cwd", failing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: catalog http ${url} is unreachable (ECONNREFUSED)`);

    const optional = project(name, env, {
      catalog: {
        sources: [
          { type: "http", url, optional: true },
          { type: "service", url: serverUrl, headers: { Authorization: "Bearer let-me-in" } },
        ],
      },
    });
    const ok = await kaupang(["up", "front", "--dry-run", "--cwd", optional]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(`optional catalog http ${url} skipped`);
  });

  it("a service catalog answers presets and solutions with its headers; use() pins a preset version", async () => {
    const name = uniqueProject("cat");
    names.push(name);
    const port = await freePort();
    const dir = project(
      name,
      {
        front: {
          services: { web: { $catalog: "web@latest", ports: [`${port}:8080`], compose: { init: true } } },
        },
      },
      {
        catalog: {
          sources: [{ type: "service", url: serverUrl, headers: { Authorization: "Bearer let-me-in" } }],
        },
      },
    );
    const denied = project(
      name,
      { front: { services: { web: { $catalog: "web" } } } },
      { catalog: { sources: [{ type: "service", url: serverUrl }] } },
    );
    const unauthorized = await kaupang(["up", "front", "--dry-run", "--cwd", denied]);
    expect(unauthorized.stderr).toContain(`error: catalog service ${serverUrl} answered HTTP 401`);

    const up = await kaupang(["up", "--solution", "shop", "--output", "json", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout).deployments.map((d: { environment: string }) => d.environment)).toEqual([
      "front",
    ]);
    expect(served.every((s) => s.auth === undefined || s.auth === "Bearer let-me-in")).toBe(true);
    expect(await waitHttp(`http://127.0.0.1:${port}/`)).toMatch(/kaupang/i);
  });

  it("solution pins and env apply; a pin naming no service is an error", async () => {
    const name = uniqueProject("cat");
    names.push(name);
    const digest = sh(["oras", "resolve", "--plain-http", baseImage()]).out;
    const base = baseImage().replace(/:latest$/, "");
    const dir = project(
      name,
      { app: { services: { web: { ...httpService(await freePort()), image: `${base}:does-not-exist` } } } },
      {
        solutions: {
          kit: {
            version: "1.0.0",
            environments: ["app"],
            pins: { "app.web": `${base}@${digest}` },
            env: { EDITION: "kit" },
          },
        },
      },
    );
    const up = await kaupang(["up", "--solution", "kit", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(sh(["docker", "inspect", "-f", "{{.Config.Image}}", `${name}-app-web-1`]).out).toBe(
      `${base}@${digest}`,
    );
    expect(sh(["docker", "exec", `${name}-app-web-1`, "printenv", "EDITION"]).out).toBe("kit");

    writeFileSync(
      join(dir, "kaupang.config.json"),
      json({
        ...JSON.parse(readFileSync(join(dir, "kaupang.config.json"), "utf8")),
        solutions: { kit: { version: "1", environments: ["app"], pins: { "app.wbe": `${base}@${digest}` } } },
      }),
    );
    const bad = await kaupang(["up", "--solution", "kit", "--dry-run", "--cwd", dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'solutions.kit.pins: "app.wbe" names no service of the solution (did you mean "app.web"?)',
    );
  });
});
