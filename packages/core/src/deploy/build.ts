/**
 * `kaupang build <env>`: docker compose build for the services that declare a
 * build context, tagged with their (repository-prefixed) image; `push` pushes
 * them. Always uses a compose rendering, whatever the target's backend: swarm
 * and Kubernetes cannot build, they deploy what was pushed.
 */
import { join, relative } from "node:path";
import { KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { writeFileAtomic } from "../base/fs.js";
import { loadModel, loadProject, type Project } from "../config/project.js";
import { execOk } from "../exec/exec.js";
import { type CommandContext, composeArgs } from "../plan/commands.js";
import type { PlanCommand } from "../plan/types.js";
import { renderCompose } from "../render/compose.js";
import type { TargetOptions } from "./plan-up.js";

export interface BuildOptions extends TargetOptions {
  environment: string;
  push?: boolean | undefined;
  events?: EventSink | undefined;
}

export interface BuildPlan {
  environment: string;
  services: { service: string; image: string; context: string }[];
  artifact: { path: string; content: string };
  commands: PlanCommand[];
  root: string;
}

export async function planBuild(options: BuildOptions, loaded?: Project): Promise<BuildPlan> {
  const project = loaded ?? (await loadProject(options.cwd ?? process.cwd()));
  const model = await loadModel(project, {
    environments: [options.environment],
    target: options.target,
    backend: "compose",
  });
  const env = model.environments[options.environment]!;
  const built = Object.values(env.services).filter((s) => s.build);
  if (built.length === 0) {
    throw new KaupangError(
      "ERR_NOTHING_TO_BUILD",
      `environment "${options.environment}" has no service with a build context`,
      {
        hint: `add build: "./dir" to a service in ${env.file}`,
      },
    );
  }
  const path = relative(model.root, join(model.cacheDir, "build", `${env.name}.compose.yaml`));
  const ctx: CommandContext = {
    project: model.project,
    target: {
      name: model.target.name,
      backend: "compose",
      namespace: model.target.namespace,
      ...(model.target.dockerContext ? { dockerContext: model.target.dockerContext } : {}),
      ...(model.target.dockerHost ? { dockerHost: model.target.dockerHost } : {}),
    },
    pull: model.target.pull,
    root: model.root,
  };
  const names = built.map((s) => s.name);
  const base = composeArgs(ctx, { environment: env.name, artifact: { path, content: "" } });
  const commands: PlanCommand[] = [
    { argv: [...base, "build", ...names], description: `build ${names.join(", ")}` },
  ];
  if (options.push)
    commands.push({
      argv: [...base, "push", ...names],
      description: `push ${built.map((s) => s.image).join(", ")}`,
    });
  return {
    environment: env.name,
    services: built.map((s) => ({ service: s.name, image: s.image, context: s.build!.context })),
    artifact: { path, content: renderCompose(model, env) },
    commands,
    root: model.root,
  };
}

export async function build(options: BuildOptions): Promise<BuildPlan> {
  return runBuild(await planBuild(options), options);
}

/** Run what `planBuild` planned. */
export async function runBuild(
  plan: BuildPlan,
  options: { events?: EventSink | undefined },
): Promise<BuildPlan> {
  await writeFileAtomic(join(plan.root, plan.artifact.path), plan.artifact.content);
  for (const command of plan.commands) {
    await execOk(command.argv, `${plan.environment}: ${command.description}`, {
      cwd: plan.root,
      events: options.events,
      scope: plan.environment,
    });
  }
  return plan;
}
