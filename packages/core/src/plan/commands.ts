/**
 * The exact commands of a deploy, as pure functions of the plan: --dry-run
 * prints them and the backends execute them, so what you preview is what runs.
 */
import type { PullPolicy } from "../config/model.js";
import { composeProjectName, projectNetworkName, stackName } from "../render/names.js";
import type { EnvironmentPlan, PlanCommand, PlanTarget } from "./types.js";

export const dockerGlobalArgs = (target: PlanTarget): string[] =>
  target.dockerContext ? ["--context", target.dockerContext] : [];

export const kubectlGlobalArgs = (target: PlanTarget): string[] =>
  target.kubeContext ? ["--context", target.kubeContext] : [];

/** KUBECONFIG for a target's kubectl runs, as a command's `env`. */
export const kubectlEnv = (target: PlanTarget): { env?: Record<string, string> } =>
  target.kubeconfig ? { env: { KUBECONFIG: target.kubeconfig } } : {};

export interface CommandContext {
  project: string;
  target: PlanTarget;
  pull: PullPolicy;
  /** Config root; compose resolves relative paths (build contexts, binds) against it. */
  root: string;
}

/** Artifact of one wave when an environment deploys in stages (swarm, kubernetes). */
export function waveArtifactPath(artifactPath: string, wave: number): string {
  return artifactPath.replace(/\.yaml$/, `.wave${wave}.yaml`);
}

export function composeArgs(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "environment" | "artifact">,
): string[] {
  return [
    "docker",
    ...dockerGlobalArgs(ctx.target),
    "compose",
    "-p",
    composeProjectName(ctx.project, env.environment),
    "--project-directory",
    ctx.root,
    "-f",
    env.artifact.path,
  ];
}

const resolveImage: Record<PullPolicy, string> = { always: "always", missing: "changed", never: "never" };

export function networkCommand(ctx: CommandContext): PlanCommand {
  const network = projectNetworkName(ctx.project);
  const driver = ctx.target.backend === "swarm" ? ["--driver", "overlay", "--attachable"] : [];
  return {
    argv: ["docker", ...dockerGlobalArgs(ctx.target), "network", "create", ...driver, network],
    description: `shared network of project ${ctx.project}, only if missing`,
  };
}

/** `docker compose … up` for one environment (compose waits for health and one-shot tasks itself). */
export function composeUpCommand(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "environment" | "artifact" | "waves">,
): PlanCommand {
  return {
    argv: [...composeArgs(ctx, env), "up", "-d", "--wait", "--remove-orphans", "--pull", ctx.pull],
    description: `start ${env.waves.flat().join(", ")} and wait until running and healthy`,
  };
}

/** `docker stack deploy` of wave `index` (0-based); the last wave deploys the whole artifact and prunes. */
export function stackDeployCommand(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "environment" | "artifact" | "waves">,
  index: number,
): PlanCommand {
  const staged = env.waves.length > 1;
  const last = index === env.waves.length - 1;
  const file = staged && !last ? waveArtifactPath(env.artifact.path, index + 1) : env.artifact.path;
  return {
    argv: [
      "docker",
      ...dockerGlobalArgs(ctx.target),
      "stack",
      "deploy",
      "--with-registry-auth",
      "--resolve-image",
      resolveImage[ctx.pull],
      ...(last ? ["--prune"] : []),
      "-c",
      file,
      stackName(ctx.project, env.environment),
    ],
    description: staged
      ? `wave ${index + 1}: ${env.waves[index]!.join(", ")}, then wait until converged`
      : "deploy, then wait until converged",
  };
}

/** `kubectl apply` of wave `index` (0-based). */
export function kubeApplyCommand(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "artifact" | "waves">,
  index: number,
): PlanCommand {
  const file = env.waves.length > 1 ? waveArtifactPath(env.artifact.path, index + 1) : env.artifact.path;
  return {
    argv: [
      "kubectl",
      ...kubectlGlobalArgs(ctx.target),
      "apply",
      "--server-side",
      "--field-manager=kaupang",
      "--force-conflicts",
      "-f",
      file,
    ],
    ...kubectlEnv(ctx.target),
    description: `wave ${index + 1}: ${env.waves[index]!.join(", ")}`,
  };
}

/** Wait for one service of a wave to be rolled out (a Deployment) or completed (a runOnce Job). */
export function kubeWaitCommand(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "runOnce">,
  service: string,
): PlanCommand {
  const base = ["kubectl", ...kubectlGlobalArgs(ctx.target)];
  const job = env.runOnce.includes(service);
  return {
    argv: job
      ? [...base, "wait", "-n", ctx.target.namespace, "--for=condition=complete", `job/${service}`]
      : [...base, "rollout", "status", "-n", ctx.target.namespace, `deployment/${service}`],
    ...kubectlEnv(ctx.target),
    description: job ? `wait until ${service} completes` : `wait until ${service} is rolled out`,
  };
}

export function upCommands(ctx: CommandContext, env: EnvironmentPlan): PlanCommand[] {
  switch (ctx.target.backend) {
    case "compose":
      return [networkCommand(ctx), composeUpCommand(ctx, env)];
    case "swarm":
      return [networkCommand(ctx), ...env.waves.map((_, i) => stackDeployCommand(ctx, env, i))];
    case "kubernetes":
      return env.waves.flatMap((wave, i) => [
        kubeApplyCommand(ctx, env, i),
        ...wave.map((service) => kubeWaitCommand(ctx, env, service)),
      ]);
  }
}

export function downCommands(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "environment" | "artifact">,
): PlanCommand[] {
  switch (ctx.target.backend) {
    case "compose":
      return [
        {
          argv: [...composeArgs(ctx, env), "down", "--remove-orphans"],
          description: "stop and remove containers",
        },
      ];
    case "swarm":
      return [
        {
          argv: [
            "docker",
            ...dockerGlobalArgs(ctx.target),
            "stack",
            "rm",
            stackName(ctx.project, env.environment),
          ],
          description: "remove the stack, then wait until its services and networks are gone",
        },
      ];
    case "kubernetes":
      return [
        {
          argv: [
            "kubectl",
            ...kubectlGlobalArgs(ctx.target),
            "delete",
            "-n",
            ctx.target.namespace,
            "deployment,job,service",
            "-l",
            `app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=${composeProjectName(ctx.project, env.environment)}`,
            "--wait",
          ],
          ...kubectlEnv(ctx.target),
          description: "delete what kaupang created for this environment",
        },
      ];
  }
}
