/** Tear environments down: the named one, or with its dependencies in reverse start order. */

import { backendContext, backendFor } from "../backends/context.js";
import { errorMessage } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { interruptedBy, interruptedError } from "../base/interrupt.js";
import type { Model } from "../config/model.js";
import { loadProject, type Project } from "../config/project.js";
import { planStoreLocation } from "../ledger/state-store.js";
import { downCommands } from "../plan/commands.js";
import type { Plan, PlanCommand } from "../plan/types.js";
import { writeArtifacts } from "./artifacts.js";
import { runHooks } from "./hooks.js";
import { eachHost, placedContext, placementsOf } from "./hosts.js";
import { newDeploymentId } from "./ids.js";
import { lockEnvironments } from "./locks.js";
import { startDeployment } from "./outcome.js";
import { planProject, type TargetOptions } from "./plan-up.js";
import { ledgerFor } from "./state-location.js";
import type { ApplyOptions } from "./up.js";

export interface DownOptions extends TargetOptions {
  environment: string;
  withDeps?: boolean | undefined;
  /** Only these of the target's hosts (`--hosts`). */
  hosts?: readonly string[] | undefined;
  events?: EventSink | undefined;
  timeoutMs?: number | undefined;
}

export interface DownPlan {
  plan: Plan;
  /** Environments to remove, in removal order. */
  order: string[];
  commands: Record<string, PlanCommand[]>;
}

export async function planDown(options: DownOptions): Promise<DownPlan> {
  const { plan, order, commands } = await planDownProject(
    await loadProject(options.cwd ?? process.cwd()),
    options,
  );
  return { plan, order, commands };
}

/** A down planned from a project already loaded (a pipeline's down steps), with its model. */
export async function planDownProject(
  project: Project,
  options: Omit<DownOptions, "cwd">,
): Promise<DownPlan & { model: Model }> {
  const { plan, model } = await planProject(project, { ...options, environments: [options.environment] });
  const order = options.withDeps ? [...plan.environmentOrder].reverse() : [options.environment];
  const ctx = backendContext(plan, {});
  const commands = Object.fromEntries(
    order.map((name) => [name, downCommands(ctx, plan.environments.find((e) => e.environment === name)!)]),
  );
  return { plan, order, commands, model };
}

export async function down(options: DownOptions & ApplyOptions): Promise<{ removed: string[] }> {
  return removePlanned(
    await planDownProject(await loadProject(options.cwd ?? process.cwd()), options),
    options,
  );
}

/** Tear down what `planDownProject` planned: on each of the target's hosts in turn when it has some. */
export async function removePlanned(
  planned: DownPlan & { model: Model },
  options: ApplyOptions & { hosts?: readonly string[] | undefined },
): Promise<{ removed: string[] }> {
  const { plan, order, model } = planned;
  const ctx = backendContext(plan, options);
  const backend = backendFor(plan.backend, options.backendImpl);
  const placements = placementsOf(plan.targetSettings, options.hosts);
  const locks = await lockEnvironments(planStoreLocation(model, plan), plan.target, order, {
    ...options,
    hosts: placements.map((p) => p.host),
  });
  try {
    await eachHost(
      placements,
      async (placement) => {
        const placed = placedContext(ctx, placement);
        for (const name of order) {
          const env = plan.environments.find((e) => e.environment === name)!;
          const began = new Date();
          const id = newDeploymentId(began);
          const ledger = ledgerFor(plan, model, name, plan.target, options.kaupangVersion, placement.host);
          const deployment = await startDeployment(ledger, {
            id,
            at: began.toISOString(),
            project: plan.project,
            environment: name,
            target: plan.target,
            backend: plan.backend,
            action: "down",
            images: [],
          });
          const hookEnv = {
            KAUPANG_DEPLOYMENT_ID: id,
            KAUPANG_ENVIRONMENT: name,
            KAUPANG_TARGET: plan.target,
            KAUPANG_ACTION: "down",
          };
          placed.events({
            type: "stage",
            scope: name,
            message: `removing from ${plan.target} (${plan.backend})`,
          });
          try {
            await runHooks(env.hooks.beforeDown, "beforeDown", name, placed.events, hookEnv);
            await writeArtifacts(plan.root, env);
            await backend.remove(placed, env);
            await runHooks(env.hooks.afterDown, "afterDown", name, placed.events, hookEnv);
          } catch (error) {
            const signal = interruptedBy();
            if (signal) {
              await deployment.finish("interrupted", {
                failedStep: "apply",
                error: `interrupted (${signal}): ${errorMessage(error)}`,
              });
              throw interruptedError(`while removing ${name} (${id}, recorded as interrupted)`);
            }
            await deployment.finish("failed", { failedStep: "apply", error: errorMessage(error) });
            throw error;
          }
          await deployment.finish("succeeded");
          placed.events({
            type: "done",
            scope: name,
            message: "removed",
            durationMs: Date.now() - began.getTime(),
          });
        }
      },
      { events: ctx.events, what: "down" },
    );
  } finally {
    for (const lock of locks) await lock.release();
  }
  return { removed: order };
}
