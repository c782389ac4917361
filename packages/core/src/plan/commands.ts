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

export function upCommands(ctx: CommandContext, env: EnvironmentPlan): PlanCommand[] {
  switch (ctx.target.backend) {
    case "compose":
      return [
        networkCommand(ctx),
        {
          argv: [...composeArgs(ctx, env), "up", "-d", "--wait", "--remove-orphans", "--pull", ctx.pull],
          description: `start ${env.waves.flat().join(", ")} and wait until running and healthy`,
        },
      ];
    case "swarm": {
      const stack = stackName(ctx.project, env.environment);
      const base = ["docker", ...dockerGlobalArgs(ctx.target), "stack", "deploy", "--with-registry-auth"];
      const staged = env.waves.length > 1;
      const commands: PlanCommand[] = [networkCommand(ctx)];
      env.waves.forEach((wave, i) => {
        const last = i === env.waves.length - 1;
        const file = staged && !last ? waveArtifactPath(env.artifact.path, i + 1) : env.artifact.path;
        commands.push({
          argv: [
            ...base,
            "--resolve-image",
            resolveImage[ctx.pull],
            ...(last ? ["--prune"] : []),
            "-c",
            file,
            stack,
          ],
          description: staged
            ? `wave ${i + 1}: ${wave.join(", ")}, then wait until converged`
            : "deploy, then wait until converged",
        });
      });
      return commands;
    }
    case "kubernetes": {
      const base = ["kubectl", ...kubectlGlobalArgs(ctx.target)];
      const commands: PlanCommand[] = [];
      const kenv = kubectlEnv(ctx.target);
      env.waves.forEach((wave, i) => {
        const file = env.waves.length > 1 ? waveArtifactPath(env.artifact.path, i + 1) : env.artifact.path;
        commands.push({
          argv: [
            ...base,
            "apply",
            "--server-side",
            "--field-manager=kaupang",
            "--force-conflicts",
            "-f",
            file,
          ],
          ...kenv,
          description: `wave ${i + 1}: ${wave.join(", ")}`,
        });
        for (const service of wave) {
          const job = env.runOnce.includes(service);
          commands.push({
            argv: job
              ? [...base, "wait", "-n", ctx.target.namespace, "--for=condition=complete", `job/${service}`]
              : [...base, "rollout", "status", "-n", ctx.target.namespace, `deployment/${service}`],
            ...kenv,
            description: job ? `wait until ${service} completes` : `wait until ${service} is rolled out`,
          });
        }
      });
      return commands;
    }
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
