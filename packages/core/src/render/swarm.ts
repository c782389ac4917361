/** Model → stack file for `docker stack deploy` of one environment. */
import { isAbsolute, resolve } from "node:path";
import { deepMerge } from "../base/merge.js";
import type { Environment, Model, Service } from "../config/model.js";
import type { RenderOptions } from "./compose.js";
import { dockerLimits } from "./compose.js";
import { labelKeys, projectNetworkName } from "./names.js";
import { checkRoutedPorts } from "./routes.js";
import {
  dockerEnvironment,
  dockerHealthcheck,
  dockerPort,
  escapeCommand,
  escapeDollars,
  type ImageMap,
  imageOf,
  namedResource,
  namedVolume,
  renderedArtifact,
  unsupported,
  volumeDeclarations,
} from "./shared.js";

const restartCondition = {
  no: "none",
  always: "any",
  "on-failure": "on-failure",
  "unless-stopped": "any",
} as const;

/** Bind sources resolve against the config root: a stack file has no project directory. */
function absoluteVolume(model: Model, spec: string): string {
  if (namedVolume(spec) !== undefined || !spec.includes(":")) return spec;
  const [source, ...rest] = spec.split(":");
  const abs = isAbsolute(source!) ? source! : resolve(model.root, source!);
  return [abs, ...rest].join(":");
}

function swarmService(model: Model, env: Environment, service: Service, images?: ImageMap) {
  if (service.pull) {
    throw unsupported(
      model,
      env,
      service,
      "pull",
      "per-service pull is not available (swarm pulls per stack; set pull on the target)",
    );
  }
  checkRoutedPorts(model, env, service);
  const network = projectNetworkName(model.project);
  const labels = {
    [labelKeys.project]: model.project,
    [labelKeys.environment]: env.name,
    [labelKeys.service]: service.name,
  };
  const out: Record<string, unknown> = { image: escapeDollars(imageOf(service, images)) };
  if (service.entrypoint !== undefined) out.entrypoint = escapeCommand(service.entrypoint);
  if (service.command !== undefined) out.command = escapeCommand(service.command);
  if (service.workingDir !== undefined) out.working_dir = escapeDollars(service.workingDir);
  if (Object.keys(service.env).length > 0) out.environment = dockerEnvironment(service);
  // A routed service is reached through the proxy on the overlay network: nothing to publish.
  if (service.ports.length > 0 && !service.routes) {
    out.ports =
      model.target.swarm?.portMode === "host"
        ? service.ports.map((p) => ({
            target: p.target,
            ...(p.published !== undefined ? { published: p.published } : {}),
            protocol: p.protocol,
            mode: "host",
          }))
        : service.ports.map(dockerPort);
  }
  if (service.volumes.length > 0)
    out.volumes = service.volumes.map((v) => escapeDollars(absoluteVolume(model, v)));
  if (service.healthcheck) out.healthcheck = dockerHealthcheck(service.healthcheck);
  out.labels = {
    ...Object.fromEntries(Object.entries(service.labels).map(([k, v]) => [k, escapeDollars(v)])),
    ...labels,
  };
  out.networks = [network, ...service.networks];
  if (service.capAdd.length > 0) out.cap_add = service.capAdd;
  if (service.capDrop.length > 0) out.cap_drop = service.capDrop;
  const deploy: Record<string, unknown> = {
    replicas: service.replicas,
    labels,
    restart_policy: {
      condition: service.runOnce ? "none" : restartCondition[service.restart ?? "always"],
    },
  };
  // A one-shot task exits by design; for swarm's update monitor that is an
  // "early termination", so only long-running services roll back on failure.
  // A routed service starts its new task beside the old one, which stops only
  // once the new one is running (healthy, where it has a healthcheck).
  const order = service.routes ? "start-first" : "stop-first";
  deploy.update_config = service.runOnce
    ? { failure_action: "continue" }
    : { failure_action: "rollback", monitor: "5s", order };
  if (service.routes) deploy.rollback_config = { order };
  if (service.resources) deploy.resources = { limits: dockerLimits(service) };
  if (model.target.swarm?.endpointMode === "dnsrr") deploy.endpoint_mode = "dnsrr";
  out.deploy = deploy;
  return out;
}

/** The stack file of one environment, as its one document. */
export function swarmDocuments(model: Model, env: Environment, options: RenderOptions = {}): unknown[] {
  const services: Record<string, unknown> = {};
  for (const service of Object.values(env.services)) {
    services[service.name] = deepMerge(swarmService(model, env, service, options.images), service.compose);
  }
  const network = projectNetworkName(model.project);
  const doc: Record<string, unknown> = {
    version: "3.8",
    services,
    networks: {
      [network]: { external: true, name: network },
      // A stack's own networks are overlays unless a driver is given.
      ...Object.fromEntries(
        Object.entries(env.networks).map(([k, n]) => [
          k,
          namedResource(n.external ? n : { driver: "overlay", ...n }),
        ]),
      ),
    },
  };
  const volumes = volumeDeclarations(env);
  if (volumes) doc.volumes = volumes;
  return [doc];
}

export function renderSwarm(model: Model, env: Environment, options: RenderOptions = {}): string {
  return renderedArtifact(model, env, "swarm", swarmDocuments(model, env, options));
}
