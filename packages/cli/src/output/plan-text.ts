import { type EnvironmentPlan, formatCommand, type PipelinePlan, type Plan } from "@kaupang/core";

function tree(lines: string[]): string[] {
  return lines.map((line, i) => `${i === lines.length - 1 ? "└─" : "├─"} ${line}`);
}

function waveLine(wave: string[], index: number): string {
  return `wave ${index + 1}: ${wave.length > 1 ? `parallel ${wave.join(", ")}` : wave[0]}`;
}

/** The human form of a deploy plan: environment order, service waves, commands. */
export function formatPlan(plan: Plan): string {
  const out: string[] = [];
  out.push(
    `Plan for project ${plan.project} → target ${plan.target} (${plan.backend}, pull ${plan.pull})`,
    "",
  );
  out.push("Environment start order:");
  plan.environments.forEach((env, i) => {
    const deps = env.dependsOn.length > 0 ? ` ← depends on ${env.dependsOn.join(", ")}` : "";
    out.push(`  ${i + 1}. ${env.dependsOn.length > 0 ? "◆" : "●"} ${env.environment}${deps}`);
  });
  out.push("");
  for (const env of plan.environments) {
    out.push(env.environment);
    out.push(...tree(env.waves.map(waveLine)).map((l) => `  ${l}`));
  }
  out.push("", "Commands:");
  if (plan.targetSettings.hosts)
    out.push(
      `  on each host in turn, with docker --host <host>, stopping at the first that fails: ${plan.targetSettings.hosts.join(", ")}`,
    );
  for (const env of plan.environments) {
    out.push(`  ${env.environment} (${env.artifact.path})`);
    if (env.secrets.length > 0)
      out.push(`    # requires secrets from the environment: ${env.secrets.join(", ")}`);
    for (const hook of env.hooks.beforeUp) out.push(`    $ ${hook.run}    # beforeUp hook`);
    for (const command of env.commands)
      out.push(`    $ ${formatCommand(command.argv, command.env)}    # ${command.description}`);
    for (const hook of env.hooks.afterUp) out.push(`    $ ${hook.run}    # afterUp hook`);
  }
  out.push("", "Dry run: nothing was deployed.", "");
  return out.join("\n");
}

export function formatPipelinePlan(plan: PipelinePlan): string {
  const out = [
    `Pipeline ${plan.pipeline}: ${Object.keys(plan.steps).length} steps in ${plan.waves.length} waves`,
    "",
  ];
  plan.waves.forEach((wave, i) => {
    out.push(`wave ${i + 1}${wave.length > 1 ? " (parallel)" : ""}:`);
    for (const name of wave) {
      const step = plan.steps[name]!;
      const needs = step.needs.length > 0 ? `  ← needs ${step.needs.join(", ")}` : "";
      const where = step.target ? ` [target ${step.target}]` : "";
      out.push(`  ${name}: ${step.action} ${step.subject}${where}${needs}`);
    }
  });
  out.push("", "Dry run: nothing was run.", "");
  return out.join("\n");
}

/**
 * A plan as `--dry-run --output json` prints it: each environment without the
 * pieces the planner derives from its artifact and waves for the apply step
 * and the ledger (wave artifacts, service views), so the output keeps its
 * shape and size.
 */
export function planJson<P extends { environments: EnvironmentPlan[] }>(plan: P): P {
  return { ...plan, environments: plan.environments.map(shownEnvironment) };
}

/** Units (a bundle's) as `--dry-run --output json` prints them; see planJson. */
export function unitsJson<U extends { environment: EnvironmentPlan }>(units: readonly U[]): U[] {
  return units.map((unit) => ({ ...unit, environment: shownEnvironment(unit.environment) }));
}

function shownEnvironment(env: EnvironmentPlan): EnvironmentPlan {
  const { waveArtifacts: _waves, views: _views, ...shown } = env;
  return shown as EnvironmentPlan;
}
