/**
 * The exact commands of a deploy, as pure functions of the plan: --dry-run
 * prints them and the backends execute them, so what you preview is what runs.
 */

import type { TargetSettings } from "../base/target.js";
import type { PullPolicy } from "../config/model.js";
import { composeProjectName, projectNetworkName, stackName } from "../render/names.js";
import { routedComposeCommands, routedDownCommands, routedSwarmCommands } from "./proxy-commands.js";
import type { EnvironmentPlan, KubeArtifactObject, PlanCommand } from "./types.js";

/** A target's engine for every docker command: `--context`, or `--host` (what DOCKER_HOST sets). */
export const dockerGlobalArgs = (target: TargetSettings): string[] =>
  target.dockerContext
    ? ["--context", target.dockerContext]
    : target.dockerHost
      ? ["--host", target.dockerHost]
      : [];

export const kubectlGlobalArgs = (target: TargetSettings): string[] =>
  target.kubeContext ? ["--context", target.kubeContext] : [];

/** KUBECONFIG for a target's kubectl runs, as a command's `env`. */
export const kubectlEnv = (target: TargetSettings): { env?: Record<string, string> } =>
  target.kubeconfig ? { env: { KUBECONFIG: target.kubeconfig } } : {};

export interface CommandContext {
  project: string;
  target: TargetSettings;
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

/** `up --bundle`: load the images a bundle carries (only when the engine lacks one of them). */
export function imageLoadCommand(target: TargetSettings, tarball: string, images: number): PlanCommand {
  return {
    argv: ["docker", ...dockerGlobalArgs(target), "load", "-i", tarball],
    description: `load the bundle's ${images} image${images === 1 ? "" : "s"}, only if the engine lacks one of them`,
  };
}

/** Remove the project network after a down; the engine refuses while anything still uses it. */
export function networkRemoveCommand(ctx: CommandContext): PlanCommand {
  return {
    argv: ["docker", ...dockerGlobalArgs(ctx.target), "network", "rm", projectNetworkName(ctx.project)],
    description: `remove the shared network of project ${ctx.project}, only if nothing uses it any more`,
  };
}

/**
 * `stack deploy` starts a one-shot service's task again only when its task
 * template changed: otherwise a new task is forced, so that it runs on every
 * deploy as it does with compose and Kubernetes.
 */
export function swarmRerunCommand(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "environment">,
  service: string,
): PlanCommand {
  return {
    argv: [
      "docker",
      ...dockerGlobalArgs(ctx.target),
      "service",
      "update",
      "--force",
      "--detach",
      `${stackName(ctx.project, env.environment)}_${service}`,
    ],
    description: `re-run ${service}: only if the stack deploy left its task as it was`,
  };
}

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
  env: Pick<EnvironmentPlan, "environment" | "artifact" | "waves" | "pull">,
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
      resolveImage[env.pull ?? ctx.pull],
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

/**
 * `kubectl apply` of wave `index` (0-based). The first wave also applies the
 * environment's registry-login Secret, which kaupang writes to kubectl's stdin
 * (`-f -`): the credentials are never in a file, an argument or the plan.
 */
export function kubeApplyCommand(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "artifact" | "waves" | "registryAuth">,
  index: number,
): PlanCommand {
  const file = env.waves.length > 1 ? waveArtifactPath(env.artifact.path, index + 1) : env.artifact.path;
  const auth = index === 0 ? env.registryAuth : undefined;
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
      ...(auth ? ["-f", "-"] : []),
    ],
    ...kubectlEnv(ctx.target),
    description: `wave ${index + 1}: ${env.waves[index]!.join(", ")}${auth ? `; Secret ${auth.secret} (on stdin) with your docker login for ${auth.registries.join(", ")}` : ""}`,
  };
}

/** kaupang's objects of one environment (the labels the renderer puts on each of them). */
export const kubeSelector = (project: string, environment: string): string =>
  `app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=${composeProjectName(project, environment)}`;

/**
 * Wait for one service of a wave to be rolled out (a Deployment) or finished (a
 * runOnce Job). The Job wait ends on any terminal condition (Complete, Failed, …)
 * so a failed migration stops the deploy at once instead of at the timeout; the
 * backend then reads which one it was. kubectl's own limit is off (`-1s`, its
 * 30 s default would cut long migrations short): kaupang's --timeout bounds it.
 */
export function kubeWaitCommand(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "runOnce">,
  service: string,
): PlanCommand {
  const base = ["kubectl", ...kubectlGlobalArgs(ctx.target)];
  const job = env.runOnce.includes(service);
  return {
    argv: job
      ? [
          ...base,
          "wait",
          "-n",
          ctx.target.namespace,
          '--for=jsonpath={.status.conditions[?(@.status=="True")].type}',
          "--timeout=-1s",
          `job/${service}`,
        ]
      : [...base, "rollout", "status", "-n", ctx.target.namespace, `deployment/${service}`],
    ...kubectlEnv(ctx.target),
    description: job ? `wait until ${service} completes (or fails)` : `wait until ${service} is rolled out`,
  };
}

/**
 * A Job is immutable and runs once: so that a runOnce service runs on every
 * deploy, the previous deploy's Job is deleted (with its pods) before its wave
 * is applied — only when one exists that finished or has another spec (one
 * still running this very spec is this deploy's run, and is waited for).
 */
export function kubeRerunCommand(ctx: CommandContext, service: string): PlanCommand {
  return {
    argv: [
      "kubectl",
      ...kubectlGlobalArgs(ctx.target),
      "delete",
      "-n",
      ctx.target.namespace,
      `job/${service}`,
      "--ignore-not-found",
      "--cascade=foreground",
      "--wait",
    ],
    ...kubectlEnv(ctx.target),
    description: `re-run ${service}: delete its previous Job first, only if one finished or has another spec`,
  };
}

const kubePrunable = {
  Deployment: "deployment",
  Job: "job",
  Service: "service",
  Ingress: "ingress",
} as const;
type KubePrunable = keyof typeof kubePrunable;

/** Names (as the prune selector sees them) of the Deployments, Jobs, Services and Ingresses among `objects`. */
export function kubeObjectNames(objects: readonly KubeArtifactObject[]): Record<KubePrunable, string[]> {
  const names: Record<KubePrunable, string[]> = { Deployment: [], Job: [], Service: [], Ingress: [] };
  for (const object of objects) {
    if (object.kind in kubePrunable) names[object.kind as KubePrunable].push(object.service ?? object.name);
  }
  return names;
}

/**
 * After the last wave: delete the environment's Deployments, Jobs, Services and
 * Ingresses that its artifact no longer has (a removed service, a service that
 * lost its ports or its routes, or became runOnce). Only objects carrying kaupang's labels for this
 * environment are candidates; kinds that keep the same names share a command.
 */
export function kubePruneCommands(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "environment" | "artifact" | "objects">,
): PlanCommand[] {
  const names = kubeObjectNames(env.objects ?? []);
  const groups = new Map<string, { kinds: string[]; keep: string[] }>();
  for (const kind of Object.keys(kubePrunable) as KubePrunable[]) {
    const keep = [...new Set(names[kind])].sort();
    const key = keep.join(",");
    const group = groups.get(key) ?? { kinds: [], keep };
    group.kinds.push(kubePrunable[kind]);
    groups.set(key, group);
  }
  const selector = kubeSelector(ctx.project, env.environment);
  return [...groups.values()].map(({ kinds, keep }) => ({
    argv: [
      "kubectl",
      ...kubectlGlobalArgs(ctx.target),
      "delete",
      "-n",
      ctx.target.namespace,
      kinds.join(","),
      "-l",
      keep.length > 0 ? `${selector},app.kubernetes.io/name notin (${keep.join(",")})` : selector,
      "--cascade=foreground",
      "--wait",
    ],
    ...kubectlEnv(ctx.target),
    description: `prune: delete this environment's ${kinds.map((k) => `${k}s`).join(", ")} no longer configured${keep.length > 0 ? ` (keeps ${keep.join(", ")})` : ""}`,
  }));
}

/** What `up` runs for one environment, in order. */
export function upCommands(
  ctx: CommandContext,
  env: Pick<
    EnvironmentPlan,
    "environment" | "artifact" | "waves" | "runOnce" | "objects" | "routes" | "registryAuth"
  >,
): PlanCommand[] {
  const routed = (env.routes?.length ?? 0) > 0;
  const docker = ["docker", ...dockerGlobalArgs(ctx.target)];
  switch (ctx.target.backend) {
    case "compose":
      return routed
        ? routedComposeCommands(ctx, env, {
            docker,
            compose: composeArgs(ctx, env),
            network: networkCommand(ctx),
            up: composeUpCommand(ctx, env),
          })
        : [networkCommand(ctx), composeUpCommand(ctx, env)];
    case "swarm": {
      const stack = env.waves.flatMap((wave, i) => [
        stackDeployCommand(ctx, env, i),
        ...wave.filter((s) => env.runOnce.includes(s)).map((s) => swarmRerunCommand(ctx, env, s)),
      ]);
      return routed
        ? routedSwarmCommands(ctx, env, { docker, network: networkCommand(ctx), stack })
        : [networkCommand(ctx), ...stack];
    }
    case "kubernetes":
      return [
        ...env.waves.flatMap((wave, i) => [
          ...wave.filter((s) => env.runOnce.includes(s)).map((s) => kubeRerunCommand(ctx, s)),
          kubeApplyCommand(ctx, env, i),
          ...wave.map((service) => kubeWaitCommand(ctx, env, service)),
        ]),
        ...kubePruneCommands(ctx, env),
      ];
  }
}

/** `docker compose … down` of one environment. */
export function composeDownCommand(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "environment" | "artifact">,
): PlanCommand {
  return {
    argv: [...composeArgs(ctx, env), "down", "--remove-orphans"],
    description: "stop and remove containers",
  };
}

/** `docker stack rm` of one environment's stack. */
export function stackRemoveCommand(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "environment">,
): PlanCommand {
  return {
    argv: ["docker", ...dockerGlobalArgs(ctx.target), "stack", "rm", stackName(ctx.project, env.environment)],
    description: "remove the stack, then wait until its services and networks are gone",
  };
}

/** Delete kaupang's objects of one environment (the namespace stays). */
export function kubeDeleteCommand(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "environment">,
): PlanCommand {
  return {
    argv: [
      "kubectl",
      ...kubectlGlobalArgs(ctx.target),
      "delete",
      "-n",
      ctx.target.namespace,
      "deployment,job,service,ingress,secret",
      "-l",
      kubeSelector(ctx.project, env.environment),
      // Foreground: return once the pods and ReplicaSets are gone too.
      "--cascade=foreground",
      "--wait",
    ],
    ...kubectlEnv(ctx.target),
    description:
      "delete what kaupang created for this environment (the namespace stays), then wait until it is gone",
  };
}

/** What `down` runs for one environment, in order. */
export function downCommands(
  ctx: CommandContext,
  env: Pick<EnvironmentPlan, "environment" | "artifact" | "routes">,
): PlanCommand[] {
  const routes =
    (env.routes?.length ?? 0) > 0 && ctx.target.backend !== "kubernetes"
      ? routedDownCommands(ctx, env, ["docker", ...dockerGlobalArgs(ctx.target)])
      : { before: [], after: [] };
  switch (ctx.target.backend) {
    case "compose":
      return [...routes.before, composeDownCommand(ctx, env), ...routes.after, networkRemoveCommand(ctx)];
    case "swarm":
      return [...routes.before, stackRemoveCommand(ctx, env), ...routes.after, networkRemoveCommand(ctx)];
    case "kubernetes":
      return [kubeDeleteCommand(ctx, env)];
  }
}
