/**
 * One environment's artifact for the model's backend: the documents it is
 * written from and its text, and for a staged deploy (swarm, Kubernetes) the
 * documents of each wave. Rendered once, by the planner; every reader of an
 * artifact gets these, never its text parsed back.
 */
import type { BackendName, Environment, Model } from "../config/model.js";
import { composeDocuments, type RenderOptions } from "./compose.js";
import { kubernetesObjects } from "./kubernetes.js";
import { artifactHeader } from "./shared.js";
import { swarmDocuments } from "./swarm.js";
import { joinYaml, splitYaml, toYaml, toYamlStream } from "./yaml.js";

const renderers: Record<
  BackendName,
  (model: Model, env: Environment, options?: RenderOptions) => readonly unknown[]
> = {
  compose: composeDocuments,
  swarm: swarmDocuments,
  kubernetes: kubernetesObjects,
};

interface Rendered {
  documents: readonly unknown[];
  content: string;
  /** The text of one wave's artifact (the documents waveDocuments picks), joined from pieces already emitted. */
  wave(services: readonly string[]): string;
}

/** The artifact of one environment on the model's backend. */
export function renderEnvironment(model: Model, env: Environment, options: RenderOptions = {}): Rendered {
  const backend = model.target.backend;
  const documents = renderers[backend](model, env, options);
  const header = `# ${artifactHeader(model, env, backend)}\n`;
  if (backend === "kubernetes") {
    const texts = documents.map(toYaml);
    const objects = documents as { kind: string; metadata: { name: string } }[];
    return {
      documents,
      content: header + texts.join("---\n"),
      wave: (services) =>
        texts
          .filter((_, i) => inEveryWave(objects[i]!.kind) || services.includes(objects[i]!.metadata.name))
          .join("---\n"),
    };
  }
  if (backend === "swarm") {
    const split = splitYaml(documents[0] as Record<string, unknown>, "services");
    return { documents, content: header + joinYaml(split), wave: (services) => joinYaml(split, services) };
  }
  return {
    documents,
    content: header + toYamlStream(documents),
    wave: (services) => toYamlStream(waveDocuments(backend, documents, services)),
  };
}

export const artifactExtension: Record<BackendName, string> = {
  compose: "compose.yaml",
  swarm: "stack.yaml",
  kubernetes: "k8s.yaml",
};

/** Kubernetes objects every wave applies (idempotently) before its workloads: the namespace, the volume claims. */
const inEveryWave = (kind: string): boolean => kind === "Namespace" || kind === "PersistentVolumeClaim";

/**
 * The documents of one wave of a staged deploy: a stack file with only the
 * wave's services, or the namespace, the volume claims and the wave's objects.
 */
export function waveDocuments(
  backend: BackendName,
  documents: readonly unknown[],
  services: readonly string[],
): unknown[] {
  if (backend === "swarm") {
    const doc = documents[0] as { services: Record<string, unknown> };
    const subset = Object.fromEntries(
      Object.entries(doc.services).filter(([name]) => services.includes(name)),
    );
    return [{ ...doc, services: subset }];
  }
  if (backend === "kubernetes") {
    return (documents as { kind: string; metadata: { name: string } }[]).filter(
      (d) => inEveryWave(d.kind) || services.includes(d.metadata.name),
    );
  }
  return [...documents];
}
