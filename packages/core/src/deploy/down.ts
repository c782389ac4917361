/** Tear environments down: the named one, or with its dependencies in reverse start order. */
import { planUp, type TargetOptions } from "../api.js";
import type { EventSink } from "../events.js";
import { downCommands } from "../plan/commands.js";
import type { Plan, PlanCommand } from "../plan/types.js";
import { writeArtifacts } from "./artifacts.js";
import { backendContext, backendFor } from "./context.js";
import { runHooks } from "./hooks.js";

export interface DownOptions extends TargetOptions {
  environment: string;
  withDeps?: boolean | undefined;
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
  const { plan } = await planUp({ ...options, environments: [options.environment] });
  const order = options.withDeps ? [...plan.environmentOrder].reverse() : [options.environment];
  const ctx = backendContext(plan, {});
  const commands = Object.fromEntries(
    order.map((name) => [name, downCommands(ctx, plan.environments.find((e) => e.environment === name)!)]),
  );
  return { plan, order, commands };
}

export async function down(options: DownOptions): Promise<{ removed: string[] }> {
  const { plan, order } = await planDown(options);
  const ctx = backendContext(plan, options);
  const backend = backendFor(plan.backend);
  for (const name of order) {
    const env = plan.environments.find((e) => e.environment === name)!;
    const began = Date.now();
    ctx.events({ type: "stage", scope: name, message: `removing from ${plan.target} (${plan.backend})` });
    await runHooks(env.hooks.beforeDown, "beforeDown", name, ctx.events);
    await writeArtifacts(plan.root, plan.backend, env);
    await backend.remove(ctx, env);
    await runHooks(env.hooks.afterDown, "afterDown", name, ctx.events);
    ctx.events({ type: "done", scope: name, message: "removed", durationMs: Date.now() - began });
  }
  return { removed: order };
}
