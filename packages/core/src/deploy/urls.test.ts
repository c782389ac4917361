import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testdir } from "../../../../test/support/testdir.js";
import type { DeploymentUnit } from "../plan/unit.js";
import { engineHost, environmentUrls } from "./urls.js";

const unit = (backend: DeploymentUnit["backend"]): DeploymentUnit =>
  ({
    project: "shop",
    backend,
    pull: "missing",
    target: { name: "local", backend, namespace: "shop" },
    environment: {
      environment: "app",
      runOnce: ["migrate"],
      views: {
        web: { image: "w", env: {}, ports: ["8080/tcp"], replicas: 1, command: [] },
        admin: {
          image: "a",
          env: {},
          ports: ["9090:9090/tcp", "53:53/udp", "7000/tcp"],
          replicas: 1,
          command: [],
        },
        migrate: { image: "m", env: {}, ports: ["5000:5000/tcp"], replicas: 1, command: [] },
      },
      routes: [
        {
          service: "web",
          host: "shop.example.com",
          path: "/",
          port: 8080,
          tls: "off",
          id: "x",
          url: "http://shop.example.com:19480/",
        },
      ],
    },
  }) as unknown as DeploymentUnit;

describe("environment URLs", () => {
  it("lists routes, then published TCP ports of services without a route", () => {
    expect(environmentUrls(unit("compose"), "localhost")).toEqual([
      { service: "web", url: "http://shop.example.com:19480/" },
      { service: "admin", url: "http://localhost:9090/" },
    ]);
    expect(environmentUrls(unit("kubernetes"), "localhost")).toEqual([
      { service: "web", url: "http://shop.example.com:19480/" },
    ]);
  });

  it("names the engine's host: the target's dockerHost, DOCKER_HOST, a docker context's endpoint, else localhost", () => {
    const target = { name: "t", backend: "compose" as const, namespace: "n" };
    expect(engineHost(target, {})).toBe("localhost");
    expect(engineHost(target, { DOCKER_HOST: "unix:///var/run/docker.sock" })).toBe("localhost");
    expect(engineHost(target, { DOCKER_HOST: "ssh://deploy@build.example.com" })).toBe("build.example.com");
    expect(engineHost({ ...target, dockerHost: "tcp://10.0.0.7:2376" }, { DOCKER_HOST: "ssh://x@y" })).toBe(
      "10.0.0.7",
    );
    expect(engineHost({ ...target, dockerHost: "unix:///run/docker.sock" }, {})).toBe("localhost");
    const config = testdir({});
    const meta = join(config, "contexts", "meta", createHash("sha256").update("prod").digest("hex"));
    mkdirSync(meta, { recursive: true });
    writeFileSync(
      join(meta, "meta.json"),
      JSON.stringify({ Endpoints: { docker: { Host: "tcp://10.0.0.5:2376" } } }),
    );
    expect(engineHost({ ...target, dockerContext: "prod" }, { DOCKER_CONFIG: config })).toBe("10.0.0.5");
    expect(engineHost({ ...target, dockerContext: "gone" }, { DOCKER_CONFIG: config })).toBe("localhost");
  });
});
