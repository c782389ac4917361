/**
 * `kaupang ps|logs <env> [service]`: the backend's own view of an
 * environment — `docker compose ps/logs`, `docker stack ps` / `docker service
 * logs`, `kubectl get pods` / `kubectl logs` — with the generated names filled
 * in, so nobody has to know them.
 */

import { KaupangError } from "../base/errors.js";
import type { TargetSettings } from "../base/target.js";
import { planProject } from "../deploy/plan-up.js";
import { locateState } from "../deploy/state-location.js";
import { Ledger } from "../ledger/ledger.js";
import { currentRecord } from "../ledger/record.js";
import { dockerGlobalArgs, kubectlEnv, kubectlGlobalArgs } from "../plan/commands.js";
import { composeProjectName, stackName } from "../render/names.js";

export interface PassthroughOptions {
  cwd?: string | undefined;
  environment: string;
  service?: string | undefined;
  target?: string | undefined;
  follow?: boolean | undefined;
}

/** Project, target settings and services of an environment: from the config, else from its last deploy. */
async function locate(
  options: PassthroughOptions,
): Promise<{ project: string; target: TargetSettings; services: string[] }> {
  const state = await locateState(options);
  if (state.project) {
    const { plan } = await planProject(state.project, {
      environments: [options.environment],
      target: options.target,
    });
    const env = plan.environments.find((e) => e.environment === options.environment)!;
    return { project: plan.project, target: plan.targetSettings, services: env.waves.flat() };
  }
  const ledger = new Ledger(state.cacheDir, options.environment, state.target);
  const record = currentRecord(ledger.read().records);
  if (!record)
    throw new KaupangError(
      "ERR_NOT_DEPLOYED",
      `${options.environment}@${state.target} is not deployed from here (no kaupang config and no ledger record)`,
    );
  const unit = ledger.readUnit(record);
  return { project: unit.project, target: unit.target, services: unit.environment.waves.flat() };
}

export interface PassthroughCommand {
  argv: string[];
  env?: Record<string, string>;
}

export async function passthroughCommands(
  kind: "ps" | "logs",
  options: PassthroughOptions,
): Promise<PassthroughCommand[]> {
  const { project, target, services } = await locate(options);
  if (options.service && !services.includes(options.service)) {
    throw new KaupangError(
      "ERR_UNKNOWN_SERVICE",
      `environment ${options.environment} has no service "${options.service}"; services: ${services.join(", ")}`,
    );
  }
  const follow = options.follow ? ["-f"] : [];
  const one = options.service ? [options.service] : [];
  switch (target.backend) {
    case "compose": {
      const base = [
        "docker",
        ...dockerGlobalArgs(target),
        "compose",
        "-p",
        composeProjectName(project, options.environment),
      ];
      return [{ argv: kind === "ps" ? [...base, "ps", "-a", ...one] : [...base, "logs", ...follow, ...one] }];
    }
    case "swarm": {
      const stack = stackName(project, options.environment);
      const docker = ["docker", ...dockerGlobalArgs(target)];
      if (kind === "ps")
        return [
          {
            argv: [
              ...docker,
              "stack",
              "ps",
              ...(options.service ? ["--filter", `name=${stack}_${options.service}`] : []),
              stack,
            ],
          },
        ];
      return (options.service ? [options.service] : services).map((s) => ({
        argv: [...docker, "service", "logs", ...follow, `${stack}_${s}`],
      }));
    }
    case "kubernetes": {
      const selector = `app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=${composeProjectName(project, options.environment)}${options.service ? `,app.kubernetes.io/name=${options.service}` : ""}`;
      const base = ["kubectl", ...kubectlGlobalArgs(target), "-n", target.namespace];
      const env = kubectlEnv(target);
      return [
        kind === "ps"
          ? { argv: [...base, "get", "pods", "-l", selector, "-o", "wide"], ...env }
          : {
              argv: [
                ...base,
                "logs",
                "-l",
                selector,
                "--all-containers",
                "--prefix",
                "--tail=200",
                ...follow,
              ],
              ...env,
            },
      ];
    }
  }
}
