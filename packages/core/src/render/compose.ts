/** Model → compose spec YAML for one environment (`docker compose -p <project>-<env>`). */

import { deepMerge } from "../base/merge.js";
import type { Environment, Model, Service } from "../config/model.js";
import { composeProjectName, labelKeys, projectNetworkName } from "./names.js";
import { checkRoutedPorts } from "./routes.js";
import {
  dockerEnvironment,
  dockerHealthcheck,
  dockerMemory,
  dockerPort,
  escapeCommand,
  escapeDollars,
  type ImageMap,
  imageOf,
  namedResource,
  renderedArtifact,
  volumeDeclarations,
} from "./shared.js";

export interface RenderOptions {
  /** service → image ref, e.g. pinned digests; default the model's refs. */
  images?: ImageMap;
  /**
   * secret() name → keyed fingerprint of its value at deploy time (never the
   * value). Kubernetes puts a checksum of a service's secrets on its pod
   * template, so a changed value in the cluster Secret rolls the Deployment.
   */
  secrets?: Readonly<Record<string, string>> | undefined;
  /** Kubernetes: Secrets the pods pull their images with, besides the target's imagePullSecrets. */
  pullSecrets?: readonly string[] | undefined;
}

function composeService(model: Model, env: Environment, service: Service, images?: ImageMap) {
  checkRoutedPorts(model, env, service);
  const out: Record<string, unknown> = { image: escapeDollars(imageOf(service, images)) };
  if (service.build) {
    const b = service.build;
    out.build = {
      context: escapeDollars(b.context),
      ...(b.dockerfile ? { dockerfile: escapeDollars(b.dockerfile) } : {}),
      ...(Object.keys(b.args).length > 0
        ? { args: Object.fromEntries(Object.entries(b.args).map(([k, v]) => [k, escapeDollars(v)])) }
        : {}),
      ...(b.target ? { target: b.target } : {}),
    };
  }
  if (service.entrypoint !== undefined) out.entrypoint = escapeCommand(service.entrypoint);
  if (service.command !== undefined) out.command = escapeCommand(service.command);
  if (service.workingDir !== undefined) out.working_dir = escapeDollars(service.workingDir);
  if (Object.keys(service.env).length > 0) out.environment = dockerEnvironment(service);
  // A routed service is reached through the proxy: its ports are exposed on the network, not published.
  if (service.routes) out.expose = service.ports.map(dockerPort);
  else if (service.ports.length > 0) out.ports = service.ports.map(dockerPort);
  if (service.volumes.length > 0) out.volumes = service.volumes.map(escapeDollars);
  // Listing networks replaces compose's default one: keep the project network first.
  if (service.networks.length > 0) out.networks = ["default", ...service.networks];
  if (service.capAdd.length > 0) out.cap_add = service.capAdd;
  if (service.capDrop.length > 0) out.cap_drop = service.capDrop;
  if (service.healthcheck) out.healthcheck = dockerHealthcheck(service.healthcheck);
  const restart = service.runOnce ? "no" : service.restart;
  if (restart) out.restart = restart;
  if (service.dependsOn.length > 0) {
    out.depends_on = Object.fromEntries(
      service.dependsOn.map((dep) => {
        const d = env.services[dep]!;
        const condition = d.runOnce
          ? "service_completed_successfully"
          : d.healthcheck
            ? "service_healthy"
            : "service_started";
        return [dep, { condition }];
      }),
    );
  }
  const pull = service.pull ?? env.pull;
  if (pull) out.pull_policy = pull;
  out.labels = {
    ...Object.fromEntries(Object.entries(service.labels).map(([k, v]) => [k, escapeDollars(v)])),
    [labelKeys.project]: model.project,
    [labelKeys.environment]: env.name,
    [labelKeys.service]: service.name,
  };
  const deploy: Record<string, unknown> = {};
  if (service.replicas !== 1) deploy.replicas = service.replicas;
  if (service.resources) deploy.resources = { limits: dockerLimits(service) };
  if (Object.keys(deploy).length > 0) out.deploy = deploy;
  return out;
}

export function dockerLimits(service: Service): Record<string, string> {
  const r = service.resources ?? {};
  return {
    ...(r.cpus !== undefined ? { cpus: r.cpus } : {}),
    ...(r.memoryBytes !== undefined ? { memory: dockerMemory(r.memoryBytes) } : {}),
  };
}

/** The compose file of one environment, as its one document. */
export function composeDocuments(model: Model, env: Environment, options: RenderOptions = {}): unknown[] {
  const services: Record<string, unknown> = {};
  for (const service of Object.values(env.services)) {
    services[service.name] = deepMerge(composeService(model, env, service, options.images), service.compose);
  }
  const doc: Record<string, unknown> = {
    name: composeProjectName(model.project, env.name),
    services,
    networks: {
      default: { name: projectNetworkName(model.project), external: true },
      ...Object.fromEntries(Object.entries(env.networks).map(([k, n]) => [k, namedResource(n)])),
    },
  };
  const volumes = volumeDeclarations(env);
  if (volumes) doc.volumes = volumes;
  return [doc];
}

export function renderCompose(model: Model, env: Environment, options: RenderOptions = {}): string {
  return renderedArtifact(model, env, "compose", composeDocuments(model, env, options));
}
