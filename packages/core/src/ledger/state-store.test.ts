/**
 * Where a store on the target lives for a target with hosts: each host's
 * engine keeps that host's records, units and lock (named apart by host), and
 * a scope that names no host is refused rather than read from some engine.
 */
import { describe, expect, it } from "vitest";
import type { TargetSettings } from "../base/target.js";
import { engineFor } from "../exec/docker-engine.js";
import { stateStore } from "./state-store.js";
import { scopeKey } from "./store.js";

const [h1, h2] = ["ssh://deploy@10.0.0.1", "ssh://deploy@10.0.0.2"];
const fleet: TargetSettings = { name: "fleet", backend: "compose", namespace: "shop", hosts: [h1, h2] };
const location = { cacheDir: "/tmp/nowhere", remote: { project: "shop", target: fleet } };

describe("state on the target of a target with hosts", () => {
  it("each host's store is on that host's engine, its objects keyed by the host", () => {
    const one = stateStore(location, { environment: "app", target: "fleet", host: h1 });
    const two = stateStore(location, { environment: "app", target: "fleet", host: h2 });
    const k1 = scopeKey("shop", { environment: "app", target: "fleet", host: h1 });
    const k2 = scopeKey("shop", { environment: "app", target: "fleet", host: h2 });
    expect(k1).not.toBe(k2);
    expect(k1).not.toBe(scopeKey("shop", { environment: "app", target: "fleet" }));
    expect(one.location).toBe(`volumes kaupang.${k1}.* on host ${h1}`);
    expect(two.location).toBe(`volumes kaupang.${k2}.* on host ${h2}`);
    expect(one.lockLocation).toContain(`on host ${h1}`);
    expect(one.leaseMs).toBeGreaterThan(0);
  });

  it("a scope without a host is refused, never read from the local engine", () => {
    expect(() => stateStore(location, { environment: "app", target: "fleet" })).toThrow(
      /^target fleet keeps its state on each of its hosts \(state: "target"\), and this reads app@fleet without naming one; refused$/,
    );
  });

  it("a target without hosts keeps the key and engine it always had", () => {
    const single = { ...location, remote: { project: "shop", target: { ...fleet, hosts: undefined } } };
    const store = stateStore(single, { environment: "app", target: "fleet" }, { cache: false });
    expect(store.location).toContain(
      `kaupang.${scopeKey("shop", { environment: "app", target: "fleet" })}.*`,
    );
  });

  it("the engine of a host is dialled through that host, not DOCKER_HOST", () => {
    const engine = engineFor(
      { ...fleet, hosts: undefined, dockerHost: h2 },
      { DOCKER_HOST: "tcp://elsewhere:2375" },
    );
    expect(engine.via).toBe(`host ${h2}`);
  });
});
