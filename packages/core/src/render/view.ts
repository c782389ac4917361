/**
 * One comparable view per service, read from a rendered artifact (compose,
 * stack or Kubernetes manifests). `diff` compares two of them, `status`
 * compares one with what runs. Secret values never appear: a secret is a
 * reference (`{ secret: "VAR" }`) on both sides.
 */
import type { BackendName } from "../config/model.js";
import { artifactDocuments } from "./yaml.js";

export type EnvEntry = { value: string } | { secret: string };

export interface ServiceView {
  image: string;
  env: Record<string, EnvEntry>;
  /** Published ports as "published:target/protocol" (target-only ports as "target/protocol"). */
  ports: string[];
  replicas: number;
  command: string[];
}

const secretPattern = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** A compose/stack environment value back to what the container sees. */
function dockerEnvEntry(raw: string): EnvEntry {
  const secret = secretPattern.exec(raw);
  return secret ? { secret: secret[1]! } : { value: raw.replace(/\$\$/g, "$") };
}

function dockerPort(port: unknown): string {
  if (typeof port === "object" && port !== null) {
    const p = port as { target: number; published?: number; protocol?: string };
    return `${p.published !== undefined ? `${p.published}:` : ""}${p.target}/${p.protocol ?? "tcp"}`;
  }
  const text = String(port);
  const [spec, protocol = "tcp"] = text.split("/");
  const parts = spec!.split(":");
  const target = parts[parts.length - 1];
  const published = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  return `${published ? `${published}:` : ""}${target}/${protocol}`;
}

const words = (value: unknown): string[] =>
  value === undefined
    ? []
    : Array.isArray(value)
      ? value.map(String)
      : String(value).split(/\s+/).filter(Boolean);

export function viewArtifact(backend: BackendName, content: string): Record<string, ServiceView> {
  const views: Record<string, ServiceView> = {};
  if (backend === "kubernetes") {
    // biome-ignore lint/suspicious/noExplicitAny: rendered manifests, read back by known paths
    type Json = any;
    for (const doc of artifactDocuments(content) as Record<string, Json>[]) {
      if (doc.kind !== "Deployment" && doc.kind !== "Job") continue;
      const container = doc.spec.template.spec.containers[0];
      views[doc.metadata.name] = {
        image: container.image,
        env: Object.fromEntries(
          (container.env ?? []).map((e: Json) => [
            e.name,
            e.valueFrom?.secretKeyRef
              ? { secret: e.valueFrom.secretKeyRef.key }
              : { value: String(e.value ?? "") },
          ]),
        ),
        ports: (container.ports ?? [])
          .map((p: Json) => `${p.containerPort}/${String(p.protocol ?? "TCP").toLowerCase()}`)
          .sort(),
        replicas: doc.kind === "Job" ? 1 : (doc.spec.replicas ?? 1),
        command: [...words(container.command), ...words(container.args)],
      };
    }
    return views;
  }
  // biome-ignore lint/suspicious/noExplicitAny: a rendered compose file, read back by known keys
  const doc = artifactDocuments(content)[0] as { services?: Record<string, Record<string, any>> };
  for (const [name, s] of Object.entries(doc.services ?? {})) {
    views[name] = {
      image: String(s.image ?? "").replace(/\$\$/g, "$"),
      env: Object.fromEntries(
        Object.entries(s.environment ?? {}).map(([k, v]) => [k, dockerEnvEntry(String(v))]),
      ),
      ports: (s.ports ?? []).map(dockerPort).sort(),
      replicas: s.deploy?.replicas ?? 1,
      command: [...words(s.entrypoint), ...words(s.command)].map((w) => w.replace(/\$\$/g, "$")),
    };
  }
  return views;
}

export interface Change {
  service: string;
  kind: "added" | "removed" | "image" | "env" | "ports" | "replicas" | "command";
  /** Human text; never a secret value. */
  detail: string;
}

const showEnv = (e: EnvEntry | undefined) =>
  e === undefined ? "(unset)" : "secret" in e ? `secret(${e.secret})` : JSON.stringify(e.value);

/** What changes from `before` to `after`, service by service. */
export function diffViews(before: Record<string, ServiceView>, after: Record<string, ServiceView>): Change[] {
  const changes: Change[] = [];
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const service of names) {
    const a = before[service];
    const b = after[service];
    if (!a) {
      changes.push({ service, kind: "added", detail: `added (${b!.image})` });
      continue;
    }
    if (!b) {
      changes.push({ service, kind: "removed", detail: "removed" });
      continue;
    }
    if (a.image !== b.image)
      changes.push({ service, kind: "image", detail: `image ${a.image} → ${b.image}` });
    for (const key of [...new Set([...Object.keys(a.env), ...Object.keys(b.env)])].sort()) {
      const x = a.env[key];
      const y = b.env[key];
      if (JSON.stringify(x) === JSON.stringify(y)) continue;
      changes.push({ service, kind: "env", detail: `env ${key}: ${showEnv(x)} → ${showEnv(y)}` });
    }
    if (a.ports.join() !== b.ports.join()) {
      changes.push({
        service,
        kind: "ports",
        detail: `ports [${a.ports.join(", ")}] → [${b.ports.join(", ")}]`,
      });
    }
    if (a.replicas !== b.replicas)
      changes.push({ service, kind: "replicas", detail: `replicas ${a.replicas} → ${b.replicas}` });
    if (a.command.join("\u0000") !== b.command.join("\u0000")) {
      changes.push({
        service,
        kind: "command",
        detail: `command ${JSON.stringify(a.command)} → ${JSON.stringify(b.command)}`,
      });
    }
  }
  return changes;
}
