import { describe, expect, it } from "vitest";
import type { Backend, BackendContext, RunningService } from "../backends/backend.js";
import { silent } from "../base/events.js";
import type { EnvironmentPlan } from "../plan/types.js";
import { verifyRunning } from "./verify.js";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const ctx = { events: silent } as BackendContext;
const fake = (running: RunningService[]): Backend => ({
  apply: async () => {},
  remove: async () => {},
  running: async () => running,
});
const env = (images: EnvironmentPlan["images"], replicas: Record<string, number> = { web: 1 }) =>
  ({ environment: "api", images, replicas }) as EnvironmentPlan;

describe("verifyRunning", () => {
  it("passes when every instance runs the pinned digest", async () => {
    const backend = fake([
      { service: "web", instances: [{ digests: [digest("a")], ref: "r/web", state: "running" }] },
    ]);
    await expect(
      verifyRunning(
        backend,
        ctx,
        env([{ service: "web", ref: "r/web:1", digest: digest("a"), pinned: true }]),
      ),
    ).resolves.toBeUndefined();
  });

  it("fails naming the service that kept another image", async () => {
    const backend = fake([
      { service: "web", instances: [{ digests: [digest("b")], ref: "r/web:1", state: "running" }] },
    ]);
    await expect(
      verifyRunning(
        backend,
        ctx,
        env([{ service: "web", ref: "r/web:1", digest: digest("a"), pinned: true }]),
      ),
    ).rejects.toThrow(`api: service web runs ${digest("b")}, not the pinned ${digest("a")}`);
  });

  it("compares local pins with the image ID", async () => {
    const backend = fake([
      {
        service: "web",
        instances: [{ digests: [], imageId: digest("c"), ref: digest("c"), state: "running" }],
      },
    ]);
    const image = { service: "web", ref: "r/web:dev", digest: digest("c"), pinned: true, local: true };
    await expect(verifyRunning(backend, ctx, env([image]))).resolves.toBeUndefined();
    await expect(verifyRunning(backend, ctx, env([{ ...image, digest: digest("d") }]))).rejects.toThrow(
      "service web runs",
    );
  });

  it("fails when a pinned service is not running, unless it has zero replicas", async () => {
    const image = { service: "web", ref: "r/web:1", digest: digest("a"), pinned: true };
    await expect(verifyRunning(fake([]), ctx, env([image]))).rejects.toThrow(
      "api: service web is not running after the deploy",
    );
    await expect(verifyRunning(fake([]), ctx, env([image], { web: 0 }))).resolves.toBeUndefined();
  });

  it("skips unpinned images (--no-resolve)", async () => {
    await expect(
      verifyRunning(fake([]), ctx, env([{ service: "web", ref: "r/web:1", pinned: false }])),
    ).resolves.toBeUndefined();
  });
});
