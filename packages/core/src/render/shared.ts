import { formatDockerDuration } from "../base/duration.js";
import { own } from "../base/merge.js";
import type {
  BackendName,
  Environment,
  Healthcheck,
  Model,
  NamedResource,
  Service,
} from "../config/model.js";
import type { PortMapping } from "../config/ports.js";
import { fieldError } from "../config/validate.js";
import { artifactText } from "./yaml.js";

/** The header line of an artifact: what it is and that it is generated. */
export const artifactHeader = (model: Model, env: Environment, backend: BackendName): string =>
  `kaupang: ${model.project}/${env.name} for target ${model.target.name} (${backend}). Generated; edits are overwritten.`;

/** The artifact of one environment for the target: a header line naming what it is, then its documents. */
export function renderedArtifact(
  model: Model,
  env: Environment,
  backend: BackendName,
  documents: readonly unknown[],
): string {
  return artifactText(artifactHeader(model, env, backend), documents);
}

/** Compose and stack files interpolate `$`: a literal must reach the container unchanged. */
export const escapeDollars = (value: string): string => value.replace(/\$/g, () => "$$");

export function dockerEnvironment(service: Service): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(service.env)) {
    out[key] = typeof value === "string" ? escapeDollars(value) : `\${${value.$secret}}`;
  }
  return out;
}

export function dockerPort(port: PortMapping): string {
  const host =
    port.published === undefined ? "" : `${port.hostIp ? `${port.hostIp}:` : ""}${port.published}:`;
  return `${host}${port.target}${port.protocol === "udp" ? "/udp" : ""}`;
}

export function dockerHealthcheck(h: Healthcheck): Record<string, unknown> {
  return {
    test: h.test.map(escapeDollars),
    ...(h.intervalMs !== undefined ? { interval: formatDockerDuration(h.intervalMs) } : {}),
    ...(h.timeoutMs !== undefined ? { timeout: formatDockerDuration(h.timeoutMs) } : {}),
    ...(h.retries !== undefined ? { retries: h.retries } : {}),
    ...(h.startPeriodMs !== undefined ? { start_period: formatDockerDuration(h.startPeriodMs) } : {}),
  };
}

export const escapeCommand = (value: string | string[]): string | string[] =>
  typeof value === "string" ? escapeDollars(value) : value.map(escapeDollars);

/** Docker memory limit: bytes as a compact unit string. */
export function dockerMemory(bytes: number): string {
  for (const [unit, size] of [
    ["g", 1024 ** 3],
    ["m", 1024 ** 2],
    ["k", 1024],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}b`;
}

/** Services in the image map override the model's refs (pinned digests). */
export type ImageMap = Readonly<Record<string, string>>;

export function imageOf(service: Service, images: ImageMap | undefined): string {
  return own(images, service.name) ?? service.image;
}

export function unsupported(model: Model, env: Environment, service: Service, field: string, why: string) {
  return fieldError({
    file: env.file,
    path: ["services", service.name, field],
    message: `${why} on the ${model.target.backend} backend (target "${model.target.name}")`,
  });
}

/** Named volumes in compose short syntax ("data:/var/lib") — not bind mounts. */
export function namedVolume(spec: string): string | undefined {
  const source = spec.split(":")[0] ?? "";
  if (!spec.includes(":") || source === "" || /^[./~]/.test(source)) return undefined;
  return source;
}

/** Compose-spec form of an environment's network or volume declaration. */
export function namedResource(resource: NamedResource): Record<string, unknown> {
  return {
    ...(resource.name !== undefined ? { name: escapeDollars(resource.name) } : {}),
    ...(resource.external ? { external: true } : {}),
    ...(resource.driver !== undefined ? { driver: resource.driver } : {}),
    ...(resource.driverOpts && Object.keys(resource.driverOpts).length > 0
      ? { driver_opts: resource.driverOpts }
      : {}),
    ...(resource.internal ? { internal: true } : {}),
    ...(resource.labels && Object.keys(resource.labels).length > 0 ? { labels: resource.labels } : {}),
  };
}

/**
 * Top-level `volumes`: the environment's declared ones with their options, and
 * a plain entry for every other named volume a service mounts.
 */
export function volumeDeclarations(env: Environment): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [key, volume] of Object.entries(env.volumes)) out[key] = namedResource(volume);
  for (const service of Object.values(env.services)) {
    for (const v of service.volumes) {
      const named = namedVolume(v);
      if (named && !(named in out)) out[named] = {};
    }
  }
  const keys = Object.keys(out).sort();
  return keys.length > 0 ? Object.fromEntries(keys.map((k) => [k, out[k]])) : undefined;
}
