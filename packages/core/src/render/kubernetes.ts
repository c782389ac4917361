/**
 * Model → Kubernetes manifests for one environment: the project namespace,
 * the claims of the environment's named volumes, then per service a Deployment (a Job for runOnce) and, where it has ports,
 * a ClusterIP Service named after the service so other environments reach it
 * by name, as they do on compose and swarm.
 */
import { createHash } from "node:crypto";
import { isAbsolute, resolve } from "node:path";
import { parse as parseShell } from "shell-quote";
import { deepMerge } from "../base/merge.js";
import type { Environment, Model, Service } from "../config/model.js";
import { fieldError } from "../config/validate.js";
import type { RenderOptions } from "./compose.js";
import { ingressOf, routedStrategy, tcpReadiness } from "./ingress.js";
import { kubeSecretName } from "./names.js";
import { type ImageMap, imageOf, namedVolume, renderedArtifact, unsupported } from "./shared.js";

const managedBy = "kaupang";
const environmentLabel = "kaupang.dev/environment";
const projectLabel = "app.kubernetes.io/part-of";
/** On a Job: the hash of its spec. A Job is immutable, so the backend replaces one whose hash differs. */
export const specHashAnnotation = "kaupang.dev/spec-hash";
/**
 * On a pod template: a checksum of the keyed fingerprints of the secret()
 * values the service uses. A value changed in the cluster Secret changes the
 * template, so the Deployment rolls and its pods read the new value.
 */
export const secretChecksumAnnotation = "kaupang.dev/secret-checksum";

/** The checksum of the fingerprints of the secrets `service` references; undefined when it uses none or none are known. */
function secretChecksum(service: Service, secrets: RenderOptions["secrets"]): string | undefined {
  if (!secrets) return undefined;
  const used = [
    ...new Set(Object.values(service.env).flatMap((v) => (typeof v === "string" ? [] : [v.$secret]))),
  ].sort();
  if (used.length === 0) return undefined;
  const lines = used.map((name) => `${name}=${secrets[name] ?? "unknown"}\n`).join("");
  return `sha256:${createHash("sha256").update(lines).digest("hex")}`;
}

/** On a PersistentVolumeClaim: the volume name as written in the environment. */
const volumeLabel = "kaupang.dev/volume";

/** Labels on every object kaupang creates for a service; the selector uses name + instance. */
function kubeLabels(model: Model, env: Environment, service?: Service): Record<string, string> {
  return {
    ...(service ? { "app.kubernetes.io/name": service.name } : {}),
    "app.kubernetes.io/instance": `${model.project}-${env.name}`,
    [projectLabel]: model.project,
    "app.kubernetes.io/managed-by": managedBy,
    [environmentLabel]: env.name,
  };
}

function argv(model: Model, env: Environment, service: Service, field: "command" | "entrypoint"): string[] {
  const value = service[field]!;
  if (Array.isArray(value)) return value;
  const words = parseShell(value);
  if (!words.every((w): w is string => typeof w === "string")) {
    throw unsupported(
      model,
      env,
      service,
      field,
      'a shell expression (operators, globs or comments) is not available; write an array, or ["sh", "-c", "…"]',
    );
  }
  return words;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

function kubeQuantity(bytes: number): string {
  for (const [unit, size] of [
    ["Gi", 1024 ** 3],
    ["Mi", 1024 ** 2],
    ["Ki", 1024],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** DNS-1123 label from a compose volume name ("db_data" → "db-data"). */
const dnsLabel = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");

/**
 * The claim of a named volume: one per environment and volume, like compose's
 * `<project>-<env>_<volume>`; a volume the environment declares with a `name`
 * uses that name (an external one is a claim made outside kaupang).
 */
const claimName = (env: Environment, volume: string): string => {
  const declared = Object.hasOwn(env.volumes, volume) ? env.volumes[volume] : undefined;
  return dnsLabel(declared?.name ?? `${env.name}-${volume}`);
};

interface PodVolumes {
  volumes: Record<string, unknown>[];
  mounts: Record<string, unknown>[];
}

/**
 * Compose short syntax → pod volumes: a named volume mounts the
 * environment's PersistentVolumeClaim, a bind mount the node's path (resolved
 * against the config root, as on swarm), an anonymous volume an emptyDir.
 */
function podVolumes(model: Model, env: Environment, service: Service): PodVolumes {
  const out: PodVolumes = { volumes: [], mounts: [] };
  service.volumes.forEach((spec, i) => {
    const parts = spec.split(":");
    const name = `volume-${i}`;
    if (parts.length === 1) {
      out.volumes.push({ name, emptyDir: {} });
      out.mounts.push({ name, mountPath: spec });
      return;
    }
    const [source, target, options = ""] = parts as [string, string, string?];
    const readOnly = options.split(",").includes("ro");
    const named = namedVolume(spec);
    out.volumes.push(
      named !== undefined
        ? { name, persistentVolumeClaim: { claimName: claimName(env, named) } }
        : { name, hostPath: { path: isAbsolute(source) ? source : resolve(model.root, source) } },
    );
    out.mounts.push({ name, mountPath: target, ...(readOnly ? { readOnly: true } : {}) });
  });
  return out;
}

function claims(model: Model, env: Environment): Record<string, unknown>[] {
  const names = new Set<string>();
  for (const service of Object.values(env.services)) {
    for (const spec of service.volumes) {
      const named = namedVolume(spec);
      if (named !== undefined && !(Object.hasOwn(env.volumes, named) && env.volumes[named]!.external)) {
        names.add(named);
      }
    }
  }
  return [...names].sort().map((volume) => ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: claimName(env, volume),
      namespace: model.target.namespace,
      labels: { ...kubeLabels(model, env), [volumeLabel]: volume },
    },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
  }));
}

function container(model: Model, env: Environment, service: Service, mounts: unknown[], images?: ImageMap) {
  if (service.networks.length > 0) {
    throw unsupported(
      model,
      env,
      service,
      "networks",
      "networks are not available (every service of a project shares the namespace's network; use a NetworkPolicy for isolation)",
    );
  }
  const c: Record<string, unknown> = { name: service.name, image: imageOf(service, images) };
  if (service.entrypoint !== undefined) c.command = argv(model, env, service, "entrypoint");
  if (service.command !== undefined) c.args = argv(model, env, service, "command");
  if (service.workingDir !== undefined) c.workingDir = service.workingDir;
  if (mounts.length > 0) c.volumeMounts = mounts;
  if (service.capAdd.length > 0 || service.capDrop.length > 0) {
    // Kubernetes names capabilities without the CAP_ prefix docker accepts.
    const names = (caps: string[]) => caps.map((c) => c.replace(/^CAP_/i, "").toUpperCase());
    c.securityContext = {
      capabilities: {
        ...(service.capAdd.length > 0 ? { add: names(service.capAdd) } : {}),
        ...(service.capDrop.length > 0 ? { drop: names(service.capDrop) } : {}),
      },
    };
  }
  const envEntries = Object.entries(service.env);
  if (envEntries.length > 0) {
    c.env = envEntries.map(([name, value]) =>
      typeof value === "string"
        ? { name, value }
        : { name, valueFrom: { secretKeyRef: { name: kubeSecretName(model.project), key: value.$secret } } },
    );
  }
  if (service.ports.length > 0) {
    c.ports = service.ports.map((p) => ({ containerPort: p.target, protocol: p.protocol.toUpperCase() }));
  }
  const h = service.healthcheck;
  if (h && h.test[0] !== "NONE") {
    const command =
      h.test[0] === "CMD-SHELL" ? ["/bin/sh", "-c", h.test.slice(1).join(" ")] : h.test.slice(1);
    c.readinessProbe = {
      exec: { command },
      ...(h.intervalMs !== undefined ? { periodSeconds: seconds(h.intervalMs) } : {}),
      ...(h.timeoutMs !== undefined ? { timeoutSeconds: seconds(h.timeoutMs) } : {}),
      ...(h.retries !== undefined && h.retries > 0 ? { failureThreshold: h.retries } : {}),
      ...(h.startPeriodMs !== undefined ? { initialDelaySeconds: Math.ceil(h.startPeriodMs / 1000) } : {}),
    };
  } else {
    const probe = tcpReadiness(service);
    if (probe) c.readinessProbe = probe;
  }
  const pull = service.pull ?? env.pull;
  if (pull) c.imagePullPolicy = { always: "Always", missing: "IfNotPresent", never: "Never" }[pull];
  if (service.resources) {
    const r = service.resources;
    c.resources = {
      limits: {
        ...(r.cpus !== undefined ? { cpu: r.cpus } : {}),
        ...(r.memoryBytes !== undefined ? { memory: kubeQuantity(r.memoryBytes) } : {}),
      },
    };
  }
  return c;
}

function workload(model: Model, env: Environment, service: Service, options: RenderOptions) {
  const images = options.images;
  const labels = { ...service.labels, ...kubeLabels(model, env, service) };
  const checksum = secretChecksum(service, options.secrets);
  const selector = {
    "app.kubernetes.io/name": service.name,
    "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"]!,
  };
  const metadata = { name: service.name, namespace: model.target.namespace, labels };
  const { volumes, mounts } = podVolumes(model, env, service);
  const pullSecrets = [...(model.target.imagePullSecrets ?? []), ...(options.pullSecrets ?? [])];
  const podSpec = (restartPolicy: string) => ({
    metadata: { labels, ...(checksum ? { annotations: { [secretChecksumAnnotation]: checksum } } : {}) },
    spec: {
      restartPolicy,
      containers: [container(model, env, service, mounts, images)],
      ...(volumes.length > 0 ? { volumes } : {}),
      ...(pullSecrets.length > 0 ? { imagePullSecrets: pullSecrets.map((name) => ({ name })) } : {}),
    },
  });
  if (service.runOnce) {
    return {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata,
      spec: { backoffLimit: 0, template: podSpec("Never") },
    };
  }
  if (service.restart === "no" || service.restart === "on-failure") {
    throw unsupported(
      model,
      env,
      service,
      "restart",
      `restart "${service.restart}" is not available for a Deployment (use runOnce for a task)`,
    );
  }
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata,
    spec: {
      replicas: service.replicas,
      selector: { matchLabels: selector },
      ...(service.routes ? { strategy: routedStrategy } : {}),
      template: podSpec("Always"),
    },
  };
}

function kubeService(model: Model, env: Environment, service: Service) {
  const labels = { ...service.labels, ...kubeLabels(model, env, service) };
  const seen = new Set<string>();
  const ports = service.ports
    .filter((p) => {
      const key = `${p.target}/${p.protocol}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((p) => ({
      name: `${p.protocol}-${p.target}`,
      port: p.target,
      targetPort: p.target,
      protocol: p.protocol.toUpperCase(),
    }));
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: service.name, namespace: model.target.namespace, labels },
    spec: {
      type: "ClusterIP",
      selector: {
        "app.kubernetes.io/name": service.name,
        "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"]!,
      },
      ports,
    },
  };
}

/**
 * The Secret an environment's pods pull with: `.dockerconfigjson` holding
 * `auths` (registry → base64 "user:password"). Never rendered into an
 * artifact: the backend builds it at apply time and hands it to kubectl on
 * stdin. It carries the environment's labels, so `down` deletes it.
 */
export function registryAuthSecret(
  target: { namespace: string },
  project: string,
  environment: string,
  name: string,
  auths: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const config = { auths: Object.fromEntries(Object.entries(auths).map(([r, auth]) => [r, { auth }])) };
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/dockerconfigjson",
    metadata: {
      name,
      namespace: target.namespace,
      labels: {
        "app.kubernetes.io/instance": `${project}-${environment}`,
        [projectLabel]: project,
        "app.kubernetes.io/managed-by": managedBy,
        [environmentLabel]: environment,
      },
    },
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify(config)).toString("base64") },
  };
}

/** JSON with sorted keys: the same object always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Annotate a Job with the hash of its spec, taken after the escape hatch is
 * merged. Deterministic: identical deploys still render identical artifacts.
 */
function withSpecHash(job: Record<string, unknown>): Record<string, unknown> {
  const metadata = job.metadata as { annotations?: Record<string, string> };
  const hash = createHash("sha256").update(canonical(job.spec)).digest("hex");
  return {
    ...job,
    metadata: {
      ...metadata,
      annotations: { ...metadata.annotations, [specHashAnnotation]: `sha256:${hash}` },
    },
  };
}

/** The manifests of one environment as objects, namespace first, services in name order. */
export function kubernetesObjects(
  model: Model,
  env: Environment,
  options: RenderOptions = {},
): Record<string, unknown>[] {
  const networks = Object.keys(env.networks);
  if (networks.length > 0) {
    throw fieldError({
      file: env.file,
      path: ["networks", networks[0]!],
      message: `environment networks are not available on the kubernetes backend (target "${model.target.name}"): every service of a project shares the namespace's network`,
    });
  }
  // A declared volume's name and external carry over to its claim; a docker volume driver does not.
  for (const [volume, declared] of Object.entries(env.volumes)) {
    if (declared.driver !== undefined || declared.driverOpts !== undefined) {
      throw fieldError({
        file: env.file,
        path: ["volumes", volume, declared.driver !== undefined ? "driver" : "driverOpts"],
        message: `a docker volume driver is not available on the kubernetes backend (target "${model.target.name}"): the claim uses the cluster's default storage class`,
      });
    }
  }
  const docs: Record<string, unknown>[] = [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: model.target.namespace,
        labels: { [projectLabel]: model.project, "app.kubernetes.io/managed-by": managedBy },
      },
    },
    ...claims(model, env),
  ];
  for (const service of Object.values(env.services)) {
    const object = deepMerge(workload(model, env, service, options), service.kubernetes) as Record<
      string,
      unknown
    >;
    docs.push(service.runOnce ? withSpecHash(object) : object);
    if (service.ports.length > 0 && !service.runOnce) docs.push(kubeService(model, env, service));
    const ingress = ingressOf(model, service, { ...service.labels, ...kubeLabels(model, env, service) });
    if (ingress) docs.push(ingress);
  }
  return docs;
}

export function renderKubernetes(model: Model, env: Environment, options: RenderOptions = {}): string {
  return renderedArtifact(model, env, "kubernetes", kubernetesObjects(model, env, options));
}
