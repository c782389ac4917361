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
