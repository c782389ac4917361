/**
 * Why a swarm service's replicas do not run, read from the task history of
 * every node; and when swarm's own rollback of a service is wedged.
 */
import { describe, expect, it } from "vitest";
import { gapsOf, rollbackWedged } from "./swarm.js";

const nodes = new Map([
  ["n1", { name: "kmh-n1", availability: "active", state: "ready" }],
  ["n2", { name: "kmh-n2", availability: "active", state: "ready" }],
  ["n3", { name: "kmh-n3", availability: "drain", state: "ready" }],
  ["n4", { name: "kmh-n4", availability: "active", state: "down" }],
]);
let seq = 0;
const task = (slot: number, node: string | undefined, desired: string, state: string, err?: string) => ({
  ID: `t${++seq}`,
  ServiceID: "s",
  Slot: slot,
  ...(node ? { NodeID: node } : {}),
  CreatedAt: `2026-01-01T00:00:${String(seq).padStart(2, "0")}Z`,
  DesiredState: desired,
  Status: { State: state, ...(err ? { Err: err } : {}) },
});

describe("swarm gaps", () => {
  it("names nothing while every slot runs", () => {
    expect(gapsOf([task(1, "n1", "running", "running"), task(2, "n2", "running", "running")], nodes)).toEqual(
      [],
    );
  });

  it("names the node and error of a slot's failed task while its replacement waits", () => {
    const gaps = gapsOf(
      [
        task(1, "n1", "running", "running"),
        task(2, "n2", "shutdown", "failed", "task: non-zero exit (137)"),
        task(2, "n2", "ready", "ready"),
      ],
      nodes,
    );
    expect(gaps).toEqual([{ node: "kmh-n2", cause: "failed", detail: "task: non-zero exit (137)" }]);
  });

  it("names a drained node whose task could not go elsewhere, and a down node still holding a task", () => {
    const gaps = gapsOf(
      [
        task(1, "n3", "shutdown", "shutdown"),
        task(
          1,
          undefined,
          "running",
          "pending",
          "no suitable node (host-mode port already in use on 2 nodes)",
        ),
        task(2, "n4", "running", "running"),
      ],
      nodes,
    );
    expect(gaps).toEqual([
      { node: "kmh-n3", cause: "node drained" },
      { node: "kmh-n4", cause: "node down" },
    ]);
  });

  it("says what the pending task waits for when no earlier task explains it", () => {
    expect(gapsOf([task(1, undefined, "running", "pending", "no suitable node")], nodes)).toEqual([
      { cause: "pending", detail: "no suitable node" },
    ]);
  });
});

describe("a wedged swarm rollback", () => {
  // Task states as `docker service ps` showed them on the real engine, single node, a host-mode port.
  const rolling = { ID: "s", UpdateStatus: { State: "rollback_started" } };
  const t = (DesiredState: string, State: string) => ({ ServiceID: "s", DesiredState, Status: { State } });

  it("is a restart of the failed task never placed (pending) that swarm wants shut down", () => {
    const tasks = [t("ready", "ready"), t("shutdown", "pending"), t("shutdown", "failed")];
    expect(rollbackWedged(rolling, tasks)).toBe(true);
  });

  it("is not a rollback on its way: the old task pending for the port, the failed one being stopped", () => {
    const tasks = [t("ready", "pending"), t("shutdown", "accepted"), t("shutdown", "failed")];
    expect(rollbackWedged(rolling, tasks)).toBe(false);
  });

  it("is not an update, nor another service's task", () => {
    const wedgedTasks = [t("ready", "ready"), t("shutdown", "pending")];
    expect(rollbackWedged({ ID: "s", UpdateStatus: { State: "updating" } }, wedgedTasks)).toBe(false);
    expect(rollbackWedged({ ID: "other", UpdateStatus: { State: "rollback_started" } }, wedgedTasks)).toBe(
      false,
    );
  });
});
