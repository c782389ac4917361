/** Units made free of the checkout's path: two working copies of one project record one unit. */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadModel, loadProject } from "../config/project.js";
import { unitDigest } from "../ledger/ledger.js";
import { createPlan } from "../plan/create-plan.js";
import type { EnvironmentPlan } from "../plan/types.js";
import { type DeploymentUnit, portableUnit, unitTarget } from "../plan/unit.js";

const longhall = fileURLToPath(new URL("../../../../examples/longhall", import.meta.url));

describe("portable units", () => {
  async function unitsAt(root: string, target: string): Promise<DeploymentUnit[]> {
    const model = await loadModel(await loadProject(root), {
      environments: ["market"],
      target,
      processEnv: {},
    });
    const plan = createPlan(model);
    return plan.environments.map((environment: EnvironmentPlan) =>
      portableUnit(
        {
          project: plan.project,
          target: plan.targetSettings,
          backend: plan.backend,
          pull: plan.pull,
          environment,
        },
        plan.root,
      ),
    );
  }

  for (const target of ["local", "vanaheim-swarm", "asgard-k8s"]) {
    it(`one deploy planned in two working copies is one unit (${target})`, async () => {
      const copies = [
        mkdtempSync(join(tmpdir(), "kaupang-copy-a-")),
        mkdtempSync(join(tmpdir(), "kaupang-copy-b-")),
      ];
      try {
        for (const dir of copies)
          cpSync(longhall, dir, { recursive: true, filter: (src) => !src.includes(".kaupang") });
        const [a, b] = await Promise.all(copies.map((dir) => unitsAt(dir, target)));
        expect(a!.map(unitDigest)).toEqual(b!.map(unitDigest));
        // Nothing of either checkout's path is left in what the ledger keeps.
        for (const [i, dir] of copies.entries()) expect(JSON.stringify([a, b][i])).not.toContain(dir);
        // A run resolves a relative kubeconfig against its own root.
        const kube = unitTarget({ target: { ...a![0]!.target, kubeconfig: "k/config" } }, copies[1]!);
        expect(kube.kubeconfig).toBe(join(copies[1]!, "k/config"));
      } finally {
        for (const dir of copies) rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
