/** status against an in-memory Backend: what runs, compared with the current record's unit. */
import { describe, expect, it } from "vitest";
import { fakeBackend } from "../deploy/testing/fake-backend.js";
import { digest, hall } from "../deploy/testing/fixtures.js";
import { up } from "../deploy/up.js";
import { status } from "./status.js";

describe("status", () => {
  it("says ok, drifted or not deployed per environment, from one load of the config", async () => {
    const cwd = hall();
    const backend = fakeBackend();
    expect(await status({ cwd, backendImpl: backend })).toEqual([
      { environment: "market", target: "local", state: "not deployed", drift: [], urls: [], secrets: [] },
      { environment: "saga", target: "local", state: "not deployed", drift: [], urls: [], secrets: [] },
    ]);
    await up({ cwd, environments: ["market"], backendImpl: backend });
    expect((await status({ cwd, backendImpl: backend })).map((s) => s.state)).toEqual(["ok", "ok"]);

    backend.runWrongImage.add("market");
    await up({ cwd, environments: ["market"], backendImpl: backend, force: true }).catch(() => {});
    const [market] = await status({ cwd, environment: "market", backendImpl: backend });
    expect(market).toMatchObject({
      state: "drifted",
      drift: [{ service: "web", kind: "image" }],
      // The forced deploy failed its verification: status says so.
      last: { action: "up", status: "failed", error: expect.stringContaining("service web runs") },
    });
  });

  it("reports pods that crash-loop or are not ready, each pod's restarts and the image the node runs", async () => {
    const cwd = hall();
    const backend = fakeBackend();
    await up({ cwd, environments: ["market"], backendImpl: backend });
    const [web] = backend.live.get("market")!;
    const pulled = web!.instances[0]!.digests[0]!;
    const image = `reg/web@${pulled}`;
    const pod = (name: string, extra: Record<string, unknown>) => ({
      ...web!.instances[0]!,
      name,
      running: image,
      ...extra,
    });
    web!.instances = [
      pod("web-a", { ready: true, restarts: 0 }),
      pod("web-b", { ready: false, restarts: 4, waiting: "CrashLoopBackOff" }),
      pod("web-c", { ready: false, restarts: 1 }),
    ];
    const [market] = await status({ cwd, environment: "market", backendImpl: backend });
    expect(market!.state).toBe("drifted");
    expect(market!.drift).toEqual([
      { service: "web", kind: "crashing", detail: "web-b is crash-looping (CrashLoopBackOff, 4 restarts)" },
      { service: "web", kind: "unready", detail: "web-c running but not ready" },
    ]);
    expect(market!.instances).toEqual([
      { service: "web", name: "web-a", state: "running", ready: true, restarts: 0, image },
      {
        service: "web",
        name: "web-b",
        state: "running",
        ready: false,
        restarts: 4,
        waiting: "CrashLoopBackOff",
        image,
      },
      { service: "web", name: "web-c", state: "running", ready: false, restarts: 1, image },
    ]);

    // All of them serving again: ok, and the restarts stay visible.
    web!.instances = [pod("web-a", { ready: true, restarts: 0 }), pod("web-b", { ready: true, restarts: 5 })];
    const [healed] = await status({ cwd, environment: "market", backendImpl: backend });
    expect(healed).toMatchObject({ state: "ok", drift: [] });
    expect(healed!.instances!.map((i) => i.restarts)).toEqual([0, 5]);
  });

  it("shows where a deployed environment answers: its routes, and published ports without a route", async () => {
    const cwd = hall({
      services: {
        web: {
          image: `r/web@${digest("b")}`,
          ports: ["8080"],
          http: { host: "market.example.com", path: "/shop" },
        },
        admin: { image: `r/admin@${digest("c")}`, ports: ["9090:9090"] },
      },
    });
    const backend = fakeBackend();
    const result = await up({ cwd, environments: ["market"], backendImpl: backend });
    const urls = [
      { service: "web", url: "http://market.example.com/shop" },
      { service: "admin", url: "http://localhost:9090/" },
    ];
    expect(result.deployments.find((d) => d.environment === "market")!.urls).toEqual(urls);
    const [market] = await status({ cwd, environment: "market", backendImpl: backend });
    expect(market).toMatchObject({ state: "ok", urls });
  });
});
