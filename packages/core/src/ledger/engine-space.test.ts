/**
 * The engine's refusals, said as the target's: a swarm worker (or an engine
 * outside any swarm) asked for configs names the target, the engine and what
 * to do, in one line.
 */
import { describe, expect, it } from "vitest";
import type { TargetEngine } from "../exec/docker-engine.js";
import { engineSpace } from "./engine-space.js";

const replying = (status: number, message: string): TargetEngine => ({
  socket: "ssh://root@worker",
  via: "docker context worker",
  request: async () => ({ status, body: { message } as never }),
});

const configsOn = (engine: TargetEngine) =>
  engineSpace({
    kind: "configs",
    project: "shop",
    target: { name: "cluster", backend: "swarm", namespace: "shop", dockerContext: "worker" },
    scope: { environment: "app", target: "cluster" },
    engine,
  });

describe("engineSpace refusals", () => {
  it("a worker node: not a swarm manager, with what to do", async () => {
    const worker = replying(
      503,
      "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.",
    );
    const error = await configsOn(worker)
      .list("lock")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "ERR_STATE_UNAVAILABLE",
      message: expect.stringMatching(
        /^target cluster: kaupang keeps its state in swarm configs, but docker context worker is not a swarm manager \(This node is not a swarm manager\. .*\)$/,
      ),
      hint: expect.stringContaining("point the target at a manager node"),
    });
    expect(String((error as Error).message)).not.toContain("\n");
  });

  it("an engine outside any swarm: not part of a swarm", async () => {
    const single = replying(
      503,
      'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.',
    );
    await expect(configsOn(single).create("l.1", "lock", "x")).rejects.toMatchObject({
      message: expect.stringContaining("docker context worker is not a swarm manager"),
    });
    const outside = replying(503, "This node is not part of a swarm");
    await expect(configsOn(outside).get("h")).rejects.toMatchObject({
      message:
        "target cluster: kaupang keeps its state in swarm configs, but docker context worker is not part of a swarm (This node is not part of a swarm)",
      hint: 'point the target at a swarm manager (dockerContext or DOCKER_HOST), or use state: "local"',
    });
  });

  it("any other refusal: what was asked, of which engine, and its reply", async () => {
    await expect(configsOn(replying(500, "disk full")).list("record")).rejects.toMatchObject({
      message: "target cluster: cannot read kaupang's state (configs) on docker context worker: disk full",
    });
  });
});
