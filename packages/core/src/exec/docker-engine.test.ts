import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { TargetSettings } from "../base/target.js";
import { type DockerEngine, localEngineSocket, withEngine } from "./docker-engine.js";

const target = (extra: Partial<TargetSettings> = {}) =>
  ({ name: "local", backend: "compose", ...extra }) as TargetSettings;

function dockerConfig(config: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-docker-config-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  return dir;
}

describe("which engine kaupang asks directly", () => {
  it("the default socket, or DOCKER_HOST's unix socket", () => {
    const DOCKER_CONFIG = dockerConfig();
    expect(localEngineSocket(target(), { DOCKER_CONFIG })).toBe("/var/run/docker.sock");
    expect(
      localEngineSocket(target(), { DOCKER_CONFIG, DOCKER_HOST: "unix:///run/user/1000/docker.sock" }),
    ).toBe("/run/user/1000/docker.sock");
    expect(localEngineSocket(target(), { DOCKER_CONFIG, DOCKER_CONTEXT: "default" })).toBe(
      "/var/run/docker.sock",
    );
  });

  it("none behind a docker context, a remote DOCKER_HOST or the config's current context: those go through the CLI", () => {
    const DOCKER_CONFIG = dockerConfig();
    expect(localEngineSocket(target({ dockerContext: "default" }), { DOCKER_CONFIG })).toBeUndefined();
    expect(localEngineSocket(target(), { DOCKER_CONFIG, DOCKER_CONTEXT: "prod" })).toBeUndefined();
    expect(
      localEngineSocket(target(), { DOCKER_CONFIG, DOCKER_HOST: "tcp://10.0.0.5:2376" }),
    ).toBeUndefined();
    expect(localEngineSocket(target(), { DOCKER_CONFIG, DOCKER_HOST: "ssh://deploy@site" })).toBeUndefined();
    const remote = dockerConfig({ currentContext: "site-x" });
    expect(localEngineSocket(target(), { DOCKER_CONFIG: remote })).toBeUndefined();
    expect(localEngineSocket(target(), { DOCKER_CONFIG: dockerConfig({ currentContext: "default" }) })).toBe(
      "/var/run/docker.sock",
    );
  });
});

describe("asking the engine over its socket", () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });

  async function fakeEngine(): Promise<{ socket: string; seen: string[] }> {
    const socket = join(mkdtempSync(join(tmpdir(), "kaupang-engine-")), "docker.sock");
    const seen: string[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        seen.push(`${req.method} ${req.url}${body ? ` ${body}` : ""}`);
        if (req.url === "/networks/missing") {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(JSON.stringify({ message: "network missing not found" }));
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ Id: "sha256:abc", path: req.url }));
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    return { socket, seen };
  }

  it("sends the request to the socket and returns status and JSON body", async () => {
    const { socket, seen } = await fakeEngine();
    const env = { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: dockerConfig() };
    const cli = async () => "cli";
    const viaEngine = async (engine: DockerEngine) => {
      const found = await engine.request<{ Id: string }>("GET", "/images/x/json");
      const missing = await engine.request<{ message: string }>("GET", "/networks/missing");
      const created = await engine.request("POST", "/networks/create", { Name: "n" });
      return `${found.status} ${found.body.Id} ${missing.status} ${missing.body.message} ${created.status}`;
    };
    expect(await withEngine(target(), viaEngine, cli, env)).toBe(
      "200 sha256:abc 404 network missing not found 200",
    );
    expect(seen).toEqual([
      "GET /images/x/json",
      "GET /networks/missing",
      'POST /networks/create {"Name":"n"}',
    ]);
  });

  it("falls back to the CLI when the socket is not there, and when the target names a context", async () => {
    const gone = join(mkdtempSync(join(tmpdir(), "kaupang-engine-")), "docker.sock");
    const env = { DOCKER_HOST: `unix://${gone}`, DOCKER_CONFIG: dockerConfig() };
    let asked = 0;
    const viaEngine = async (engine: DockerEngine) => {
      asked++;
      return (await engine.request("GET", "/_ping")).status === 200 ? "engine" : "?";
    };
    expect(await withEngine(target(), viaEngine, async () => "cli", env)).toBe("cli");
    expect(await withEngine(target(), viaEngine, async () => "cli again", env)).toBe("cli again");
    expect(asked).toBe(1); // an unreachable socket is not asked twice
    const { socket } = await fakeEngine();
    const live = { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: dockerConfig() };
    expect(await withEngine(target({ dockerContext: "default" }), viaEngine, async () => "cli", live)).toBe(
      "cli",
    );
    expect(await withEngine(target(), viaEngine, async () => "cli", live)).toBe("engine");
  });

  it("lets errors that are not about reaching the engine through", async () => {
    const { socket } = await fakeEngine();
    const env = { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: dockerConfig() };
    await expect(
      withEngine(
        target(),
        async () => {
          throw new Error("bad answer");
        },
        async () => "cli",
        env,
      ),
    ).rejects.toThrow("bad answer");
  });
});
