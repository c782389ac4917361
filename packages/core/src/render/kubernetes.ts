/**
 * Model → Kubernetes manifests for one environment: the project namespace,
 * then per service a Deployment (a Job for runOnce) and, where it has ports,
 * a ClusterIP Service named after the service so other environments reach it
 * by name, as they do on compose and swarm.
 */
import { createHash } from "node:crypto";
import { parse as parseShell } from "shell-quote";
import { deepMerge } from "../base/merge.js";
import type { Environment, Model, Service } from "../config/model.js";
import { fieldError } from "../config/validate.js";
import type { RenderOptions } from "./compose.js";
import { ingressOf, routedStrategy, tcpReadiness } from "./ingress.js";
import { kubeSecretName } from "./names.js";
import { type ImageMap, imageOf, renderedArtifact, unsupported } from "./shared.js";

const managedBy = "kaupang";
const environmentLabel = "kaupang.dev/environment";
const projectLabel = "app.kubernetes.io/part-of";
/** On a Job: the hash of its spec. A Job is immutable, so the backend replaces one whose hash differs. */
export const specHashAnnotation = "kaupang.dev/spec-hash";

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

function container(model: Model, env: Environment, service: Service, images?: ImageMap) {
  if (service.networks.length > 0) {
    throw unsupported(
      model,
      env,
      service,
      "networks",
      "networks are not available (every service of a project shares the namespace's network; use a NetworkPolicy for isolation)",
    );
  }
  if (service.volumes.length > 0) {
    throw unsupported(
      model,
      env,
      service,
      "volumes",
      "volumes are not available (use the kubernetes: escape hatch with a volume and volumeMount)",
    );
  }
  const c: Record<string, unknown> = { name: service.name, image: imageOf(service, images) };
  if (service.entrypoint !== undefined) c.command = argv(model, env, service, "entrypoint");
  if (service.command !== undefined) c.args = argv(model, env, service, "command");
  if (service.workingDir !== undefined) c.workingDir = service.workingDir;
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

function workload(model: Model, env: Environment, service: Service, images?: ImageMap) {
  const labels = { ...service.labels, ...kubeLabels(model, env, service) };
  const selector = {
    "app.kubernetes.io/name": service.name,
    "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"]!,
  };
  const metadata = { name: service.name, namespace: model.target.namespace, labels };
  const podSpec = (restartPolicy: string) => ({
    metadata: { labels },
    spec: { restartPolicy, containers: [container(model, env, service, images)] },
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
  for (const kind of ["networks", "volumes"] as const) {
    const declared = Object.keys(env[kind]);
    if (declared.length > 0) {
      throw fieldError({
        file: env.file,
        path: [kind, declared[0]!],
        message: `environment ${kind} are not available on the kubernetes backend (target "${model.target.name}"): ${
          kind === "networks"
            ? "every service of a project shares the namespace's network"
            : "create PersistentVolumeClaims yourself and mount them with the kubernetes: escape hatch"
        }`,
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
  ];
  for (const service of Object.values(env.services)) {
    const object = deepMerge(workload(model, env, service, options.images), service.kubernetes) as Record<
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
