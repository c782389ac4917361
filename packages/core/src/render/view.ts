/**
 * One comparable view per service, read from the documents of a rendered
 * artifact (compose, stack or Kubernetes manifests): what the service should
 * run. The planner records them in the plan; `diff` compares two of them,
 * `status` and the no-change check compare one with what runs. Secret values
 * never appear: a secret is a reference (`{ secret: "VAR" }`) on both sides.
 */
import type { BackendName } from "../config/model.js";

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

/** `$$` (compose's escape) back to `$`; most values have none. */
const undoDollarEscape = (text: string): string => (text.includes("$$") ? text.replace(/\$\$/g, "$") : text);

/** A compose/stack environment value back to what the container sees. */
function dockerEnvEntry(raw: string): EnvEntry {
  const secret = raw.startsWith("${") ? secretPattern.exec(raw) : null;
  return secret ? { secret: secret[1]! } : { value: undoDollarEscape(raw) };
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

export function viewDocuments(
  backend: BackendName,
  documents: readonly unknown[],
): Record<string, ServiceView> {
  const views: Record<string, ServiceView> = {};
  if (backend === "kubernetes") {
    // biome-ignore lint/suspicious/noExplicitAny: rendered manifests, read back by known paths
    type Json = any;
    for (const doc of documents as Record<string, Json>[]) {
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
  const doc = documents[0] as { services?: Record<string, Record<string, any>> };
  for (const name in doc.services) {
    const s = doc.services[name]!;
    const env: Record<string, EnvEntry> = {};
    for (const key in s.environment) env[key] = dockerEnvEntry(String(s.environment[key]));
    const command = [...words(s.entrypoint), ...words(s.command)];
    views[name] = {
      image: undoDollarEscape(String(s.image ?? "")),
      env,
      ports: s.ports ? s.ports.map(dockerPort).sort() : [],
      replicas: s.deploy?.replicas ?? 1,
      command: command.length > 0 ? command.map(undoDollarEscape) : command,
    };
  }
  return views;
}
