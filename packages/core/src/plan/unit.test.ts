import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadModel, loadProject } from "../config/project.js";
import { createPlan } from "./create-plan.js";
import type { EnvironmentPlan } from "./types.js";
import { completeUnit, type DeploymentUnit, type StoredUnit } from "./unit.js";

const longhall = fileURLToPath(new URL("../../../../examples/longhall", import.meta.url));

/** A unit as kaupang stored it before the plan carried wave artifacts, views and swarm's re-runs. */
function asRecordedBefore(unit: DeploymentUnit): StoredUnit {
  const { waveArtifacts: _w, views: _v, objects: _o, hooks, commands, ...head } = unit.environment;
  const environment: StoredUnit["environment"] = {
    ...head,
    // Kubernetes units have carried their objects for a while; the oldest do not.
    hooks,
    commands: commands.filter((c) => !c.argv.includes("update")),
  };
  return structuredClone({ ...unit, environment });
}

async function units(target: string): Promise<DeploymentUnit[]> {
  const model = await loadModel(await loadProject(longhall), {
    environments: ["market"],
    target,
    processEnv: {},
  });
  const plan = createPlan(model);
  return plan.environments.map((environment: EnvironmentPlan) => ({
    project: plan.project,
    target: plan.targetSettings,
    backend: plan.backend,
    pull: plan.pull,
    environment,
  }));
}

describe("units recorded by an older kaupang", () => {
  for (const target of ["local", "vanaheim-swarm", "asgard-k8s"]) {
    it(`complete to exactly what the planner makes today (${target})`, async () => {
      for (const unit of await units(target)) {
        const old = asRecordedBefore(unit);
        expect(old.environment.views).toBeUndefined();
        // Equal JSON: equal unit digests, so an unchanged deploy stays "unchanged" across the upgrade.
        expect(JSON.stringify(completeUnit(old))).toBe(JSON.stringify(unit));
      }
    });
  }

  it("a staged unit gets one artifact per wave, and swarm its re-run commands", async () => {
    const [market] = (await units("vanaheim-swarm")).filter((u) => u.environment.environment === "market");
    const completed = completeUnit(asRecordedBefore(market!)).environment;
    expect(completed.waveArtifacts?.map((a) => a.path)).toEqual(
      completed.waves.map((_, i) => `.kaupang/vanaheim-swarm/market.stack.wave${i + 1}.yaml`),
    );
    expect(completed.commands.some((c) => c.argv.join(" ").includes("service update --force"))).toBe(true);
  });
});
