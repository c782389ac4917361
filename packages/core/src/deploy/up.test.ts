/**
 * The orchestration of `up` through the one apply path, against an in-memory
 * Backend: what each failure records in the ledger (and with which step),
 * that a failed render leaves nothing behind, and the no-change check.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { KaupangError } from "../base/errors.js";
import { fakeBackend } from "./testing/fake-backend.js";
import { digest, hall, records } from "./testing/fixtures.js";
import { up } from "./up.js";

describe("up, through the one apply path", () => {
  it("applies dependencies first and records each environment as succeeded, its artifact written", async () => {
    const cwd = hall();
    const backend = fakeBackend();
    const result = await up({ cwd, environments: ["market"], backendImpl: backend, processEnv: {} });
    expect(backend.calls).toEqual(["apply saga", "apply market"]);
    expect(result.deployments.map((d) => d.environment)).toEqual(["saga", "market"]);
    for (const env of ["saga", "market"]) {
      expect((await records(cwd, env)).map((r) => [r.action, r.status, r.unit !== undefined])).toEqual([
        ["up", "succeeded", true],
      ]);
    }
    expect(existsSync(join(cwd, ".kaupang/local/market.compose.yaml"))).toBe(true);
  });

  it("records a failed hook as failed at step hook, and applies nothing after it", async () => {
    const cwd = hall({ hooks: { beforeUp: "exit 3" } });
    const backend = fakeBackend();
    await expect(up({ cwd, environments: ["market"], backendImpl: backend })).rejects.toMatchObject({
      code: "ERR_HOOK_FAILED",
    });
    expect(backend.calls).toEqual(["apply saga"]);
    expect((await records(cwd, "saga")).map((r) => r.status)).toEqual(["succeeded"]);
    expect(await records(cwd, "market")).toMatchObject([{ status: "failed", failedStep: "hook" }]);
  });

  it("records a failed resolution in the environment that names the image, before anything is applied", async () => {
    // Nothing listens on port 9: the registry refuses at once.
    const cwd = hall({ services: { web: "127.0.0.1:9/web:1" } });
    const backend = fakeBackend();
    await expect(up({ cwd, environments: ["market"], backendImpl: backend })).rejects.toMatchObject({
      details: { environment: "market" },
    });
    expect(backend.calls).toEqual([]);
    expect(await records(cwd, "saga")).toEqual([]);
    expect(await records(cwd, "market")).toMatchObject([{ status: "failed", failedStep: "resolve" }]);
  });

  it("records a failed apply at step apply, and a wrong image running at step verify", async () => {
    for (const [fail, step] of [
      ["failApply", "apply"],
      ["runWrongImage", "verify"],
    ] as const) {
      const cwd = hall();
      const backend = fakeBackend();
      backend[fail].add("market");
      await expect(up({ cwd, environments: ["market"], backendImpl: backend })).rejects.toMatchObject({
        code: step === "apply" ? "ERR_DEPLOY_FAILED" : "ERR_VERIFY_FAILED",
      });
      expect(
        (await records(cwd, "saga")).map((r) => r.status),
        step,
      ).toEqual(["succeeded"]);
      expect(await records(cwd, "market"), step).toMatchObject([{ status: "failed", failedStep: step }]);
    }
  });

  it("applies nothing and records unchanged when the pinned units equal the current ones and nothing drifted", async () => {
    const cwd = hall();
    const backend = fakeBackend();
    await up({ cwd, environments: ["market"], backendImpl: backend });
    await up({ cwd, environments: ["market"], backendImpl: backend });
    expect(backend.calls).toEqual(["apply saga", "apply market"]);
    expect((await records(cwd, "market")).map((r) => r.status)).toEqual(["succeeded", "unchanged"]);
    await up({ cwd, environments: ["market"], backendImpl: backend, force: true });
    expect(backend.calls.slice(2)).toEqual(["apply saga", "apply market"]);
  });

  it("leaves no file and no record when rendering fails", async () => {
    const cwd = hall(
      // A Deployment cannot restart only on failure: the Kubernetes renderer refuses it.
      { services: { web: { image: `r/web@${digest("b")}`, restart: "on-failure" } } },
      { targets: { k8s: { backend: "kubernetes" } } },
    );
    const backend = fakeBackend();
    await expect(
      up({ cwd, environments: ["market"], target: "k8s", backendImpl: backend }),
    ).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    expect(backend.calls).toEqual([]);
    expect(readdirSync(cwd).sort()).toEqual(["environments", "kaupang.config.json"]);
  });
});

describe("names that are also Object.prototype's keys", () => {
  it("deploy, record and plan again when an environment, a service, a target and an env var are named constructor", async () => {
    const cwd = testdir({
      "kaupang.config.json": json({
        project: "hall",
        targets: { constructor: { backend: "swarm" }, k: { backend: "kubernetes" } },
      }),
      "environments/constructor.json": json({
        services: {
          constructor: {
            image: `r/store@${digest("a")}`,
            env: { constructor: "1" },
            volumes: ["constructor:/d"],
          },
          web: { image: `r/web@${digest("b")}`, dependsOn: "constructor" },
        },
      }),
      "environments/other.json": json({
        services: { solo: { image: `r/solo@${digest("c")}`, dependsOn: "constructor" } },
      }),
    });
    const backend = fakeBackend();
    for (const target of ["local", "constructor", "k"]) {
      const result = await up({
        cwd,
        environments: ["constructor"],
        target,
        backendImpl: backend,
        processEnv: {},
      });
      expect(result.deployments.map((d) => d.images.map((i) => i.service))).toEqual([["constructor", "web"]]);
      expect((await records(cwd, "constructor", target)).map((r) => r.status)).toEqual(["succeeded"]);
    }
    // A dependency on a service that is not there is named, not found on the prototype.
    await expect(up({ cwd, environments: ["other"], backendImpl: backend })).rejects.toThrow(
      'environments/other.json: services.solo.dependsOn: service "constructor" does not exist in environment "other"',
    );
  });
});

describe("a failure that names a service", () => {
  it("ends with the kaupang logs command to run, with the target and the project directory", async () => {
    const cwd = hall({}, { targets: { k: { backend: "kubernetes" } } });
    const base = fakeBackend();
    const sick: typeof base = {
      ...base,
      async apply(ctx, env) {
        if (env.environment !== "market") return base.apply(ctx, env);
        throw new KaupangError("ERR_DEPLOY_FAILED", "market: service web is unhealthy", {
          hint: "last log lines: boom",
          details: { environment: "market", service: "web" },
        });
      },
    };
    for (const [target, flag] of [
      ["local", ""],
      ["k", " --target k"],
    ]) {
      const error = await up({ cwd, environments: ["market"], target, backendImpl: sick }).catch((e) => e);
      expect(error.message).toBe("market: service web is unhealthy");
      // The tests run from the repository, not the project: the command says where it is.
      expect(error.hint).toBe(
        `last log lines: boom; all of them: kaupang logs market web${flag} --cwd ${cwd}`,
      );
    }
  });

  it("names the host it failed on, for a target with hosts", async () => {
    const cwd = hall(
      {},
      { targets: { fleet: { hosts: ["ssh://deploy@10.0.0.5", "ssh://deploy@10.0.0.6:2222"] } } },
    );
    const base = fakeBackend();
    const sick: typeof base = {
      ...base,
      async apply(ctx, env) {
        if (ctx.target.dockerHost !== "ssh://deploy@10.0.0.6:2222" || env.environment !== "market")
          return base.apply(ctx, env);
        throw new KaupangError("ERR_DEPLOY_FAILED", "market: service web is unhealthy", {
          details: { environment: "market", service: "web" },
        });
      },
    };
    const error = await up({ cwd, environments: ["market"], target: "fleet", backendImpl: sick }).catch(
      (e) => e,
    );
    expect(error.message).toBe("host ssh://deploy@10.0.0.6:2222: market: service web is unhealthy");
    expect(error.hint).toContain(
      `see its logs: kaupang logs market web --target fleet --hosts 10.0.0.6:2222 --cwd ${cwd}`,
    );
  });
});
