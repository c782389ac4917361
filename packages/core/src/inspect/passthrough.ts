/**
 * `kaupang ps|logs <env> [service]`: the backend's own view of an
 * environment — `docker compose ps/logs`, `docker stack ps` / `docker service
 * logs`, `kubectl get pods` / `kubectl logs` — with the generated names filled
 * in, so nobody has to know them.
 */

import type { BackendContext } from "../backends/backend.js";
import { backendFor, defaultTimeoutMs } from "../backends/context.js";
import { didYouMean } from "../base/did-you-mean.js";
import { KaupangError } from "../base/errors.js";
import { silent } from "../base/events.js";
import type { BackendName, PullPolicy, TargetSettings } from "../base/target.js";
import { placementsOf } from "../deploy/hosts.js";
import { planProject } from "../deploy/plan-up.js";
import { locateState } from "../deploy/state-location.js";
import { ledgerAt } from "../ledger/ledger.js";
import { currentRecord, type LedgerRecord } from "../ledger/record.js";
import { dockerGlobalArgs, kubectlEnv, kubectlGlobalArgs } from "../plan/commands.js";
import type { EnvironmentPlan } from "../plan/types.js";
import { composeProjectName, stackName } from "../render/names.js";

export interface PassthroughOptions {
  cwd?: string | undefined;
  environment: string;
  service?: string | undefined;
  target?: string | undefined;
  /** Only these of the target's hosts (`--hosts`). */
  hosts?: readonly string[] | undefined;
  follow?: boolean | undefined;
  /** logs: the last n lines of each container ("all" for everything). */
  tail?: number | "all" | undefined;
  /** logs: only lines since a duration ago ("10m", "1h30m") or a timestamp (RFC 3339). */
  since?: string | undefined;
  /** logs: prefix every line with its timestamp. */
  timestamps?: boolean | undefined;
}

type Located = {
  project: string;
  target: TargetSettings;
  services: string[];
  root: string;
  pull: PullPolicy;
  environment: Pick<EnvironmentPlan, "environment" | "artifact" | "runOnce" | "images">;
};

/** Project, target settings and services of an environment: from the config, else from its last deploy. */
async function locate(options: PassthroughOptions): Promise<Located> {
  const state = await locateState(options);
  if (state.project) {
    const { plan } = await planProject(state.project, {
      environments: [options.environment],
      target: options.target,
    });
    const env = plan.environments.find((e) => e.environment === options.environment)!;
    return {
      project: plan.project,
      target: plan.targetSettings,
      services: env.waves.flat(),
      root: plan.root,
      pull: plan.pull,
      environment: env,
    };
  }
  // State on a target with hosts: each host's engine keeps its ledger; the first with a deploy says.
  let ledger = ledgerAt(state, { environment: options.environment, target: state.target });
  let record: LedgerRecord | undefined;
  for (const host of state.remote?.target.hosts ?? [undefined]) {
    ledger = ledgerAt(state, {
      environment: options.environment,
      target: state.target,
      ...(host ? { host } : {}),
    });
    record = currentRecord((await ledger.read()).records);
    if (record) break;
  }
  if (!record)
    throw new KaupangError(
      "ERR_NOT_DEPLOYED",
      `${options.environment}@${state.target} is not deployed from here (no kaupang config and no ledger record)`,
    );
  const unit = await ledger.readUnit(record);
  return {
    project: unit.project,
    target: unit.target,
    services: unit.environment.waves.flat(),
    root: state.root,
    pull: unit.pull,
    environment: unit.environment,
  };
}

function checkService(options: PassthroughOptions, services: readonly string[]): void {
  if (options.service && !services.includes(options.service)) {
    throw new KaupangError(
      "ERR_UNKNOWN_SERVICE",
      `environment ${options.environment} has no service "${options.service}"${didYouMean(options.service, services)}; services: ${services.join(", ")}`,
    );
  }
}

/** `ps --output json`: what runs of each service, read from the backend (no environment values). */
export interface PsEntry {
  environment: string;
  target: string;
  backend: BackendName;
  services: {
    service: string;
    instances: {
      name?: string;
      state: string;
      health?: string;
      exitCode?: number;
      ref: string;
      digests: string[];
      ports?: string[];
      /** The host it runs on, for a target with hosts. */
      host?: string;
    }[];
  }[];
}

export async function ps(options: PassthroughOptions): Promise<PsEntry> {
  const located = await locate(options);
  checkService(options, located.services);
  // A target with hosts: each host's read-back, every instance naming its host.
  const placements = placementsOf(located.target, options.hosts);
  const backend = backendFor(located.target.backend);
  const perHost = await Promise.all(
    placements.map(async (placement) => {
      const ctx: BackendContext = {
        project: located.project,
        target: placement.target,
        pull: located.pull,
        root: located.root,
        events: silent,
        timeoutMs: defaultTimeoutMs,
      };
      return { host: placement.host, running: await backend.running(ctx, located.environment) };
    }),
  );
  const wanted = options.service ? [options.service] : located.services;
  return {
    environment: options.environment,
    target: located.target.name,
    backend: located.target.backend,
    services: wanted.map((service) => ({
      service,
      instances: perHost.flatMap(({ host, running }) =>
        (running.find((r) => r.service === service)?.instances ?? []).map(
          ({ env: _env, imageId: _id, ...instance }) => ({ ...instance, ...(host ? { host } : {}) }),
        ),
      ),
    })),
  };
}

/** A Go duration as docker and kubectl take for --since ("10m", "1h30m", "45s"). */
const isSinceDuration = (value: string): boolean => /^(\d+(\.\d+)?(h|m|s|ms))+$/.test(value);

/** A --since value both docker and kubectl understand: a duration, or an RFC 3339 timestamp. */
export function sinceProblem(value: string): string | undefined {
  if (isSinceDuration(value)) return undefined;
  const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  if (rfc3339.test(value) && !Number.isNaN(Date.parse(value))) {
    return undefined;
  }
  return "use a duration (10m, 1h30m) or a timestamp (2026-06-12T14:00:00Z)";
}

export interface PassthroughCommand {
  argv: string[];
  env?: Record<string, string>;
  /** The host it asks, for a target with hosts (one command per host). */
  host?: string;
}

export async function passthroughCommands(
  kind: "ps" | "logs",
  options: PassthroughOptions,
): Promise<PassthroughCommand[]> {
  const { project, target, services } = await locate(options);
  checkService(options, services);
  const follow = options.follow ? ["-f"] : [];
  const one = options.service ? [options.service] : [];
  // docker compose logs and docker service logs take the same three flags.
  const dockerLogFlags = [
    ...(options.tail !== undefined ? ["--tail", String(options.tail)] : []),
    ...(options.since !== undefined ? ["--since", options.since] : []),
    ...(options.timestamps ? ["-t"] : []),
  ];
  switch (target.backend) {
    case "compose":
      // A target with hosts: the same command on each host.
      return placementsOf(target, options.hosts).map((placement) => {
        const base = [
          "docker",
          ...dockerGlobalArgs(placement.target),
          "compose",
          "-p",
          composeProjectName(project, options.environment),
        ];
        return {
          argv:
            kind === "ps"
              ? [...base, "ps", "-a", ...one]
              : [...base, "logs", ...follow, ...dockerLogFlags, ...one],
          ...(placement.host ? { host: placement.host } : {}),
        };
      });
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
        argv: [...docker, "service", "logs", ...follow, ...dockerLogFlags, `${stack}_${s}`],
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
                `--tail=${options.tail === "all" ? -1 : (options.tail ?? 200)}`,
                ...(options.since === undefined
                  ? []
                  : [
                      isSinceDuration(options.since)
                        ? `--since=${options.since}`
                        : `--since-time=${options.since}`,
                    ]),
                ...(options.timestamps ? ["--timestamps"] : []),
                ...follow,
              ],
              ...env,
            },
      ];
    }
  }
}
