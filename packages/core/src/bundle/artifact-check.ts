/**
 * A bundle's artifacts are checked against what kaupang itself renders before
 * a tool reads them: every image pinned to what the manifest lists, the
 * compose project name and network of the bundle's project, no compose key
 * that makes the tool read or run something on the deploying host (build,
 * env_file, extends, include, file-backed secrets and configs), and for
 * Kubernetes only the kinds kaupang renders, all in one namespace — which the
 * site then replaces with its own: a bundle deploys into the site's
 * namespace, never the one it was made for.
 *
 * What the containers themselves do (their command, their volumes) is the
 * cargo, not a way out of it: a site that deploys only bundles its owner
 * signed (`requireSignature`) decides who may choose that.
 */
import type { BackendName } from "../base/target.js";
import { composeProjectName, projectNetworkName } from "../render/names.js";
import { artifactText, parseArtifact, toYamlStream } from "../render/yaml.js";
import { bundleError } from "./files.js";

type Doc = Record<string, unknown>;
const isObject = (value: unknown): value is Doc =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Compose keys that make docker compose (on the deploying host) read files or build. */
const hostServiceKeys = ["build", "env_file", "extends", "label_file", "develop"];
const composeTopLevel = new Set(["name", "version", "services", "networks", "volumes"]);
const kubeKinds = new Set(["Namespace", "Deployment", "Job", "Service"]);

export interface ArtifactContext {
  /** Names the file in errors: `<bundle>/artifacts/app.compose.yaml`. */
  where: string;
  backend: BackendName;
  project: string;
  environment: string;
  /** The site's namespace (Kubernetes): where the objects go, whatever namespace the bundle names. */
  namespace: string;
  /** Image IDs and digests the manifest lists for this environment. */
  pins: ReadonlySet<string>;
}

function parse(content: string, where: string): unknown[] {
  try {
    return [...parseArtifact(content)];
  } catch (error) {
    throw bundleError(
      "ERR_BUNDLE_INVALID",
      where,
      `is not YAML kaupang can read (${(error as Error).message.split("\n")[0]}); refused`,
    );
  }
}

function checkImage(image: unknown, field: string, ctx: ArtifactContext): void {
  const text = typeof image === "string" ? image : "";
  const digest =
    /@(sha256:[0-9a-f]{64})$/.exec(text)?.[1] ?? (/^sha256:[0-9a-f]{64}$/.test(text) ? text : undefined);
  if (!digest || !ctx.pins.has(digest)) {
    throw bundleError(
      "ERR_BUNDLE_INVALID",
      ctx.where,
      `${field}: image ${JSON.stringify(image)} is not an image ID or digest that bundle.json lists for ${ctx.environment}; refused`,
    );
  }
}

function checkCompose(docs: unknown[], ctx: ArtifactContext): void {
  const [doc] = docs;
  if (docs.length !== 1 || !isObject(doc))
    throw bundleError("ERR_BUNDLE_INVALID", ctx.where, "is not one compose document; refused");
  for (const key of Object.keys(doc)) {
    if (!composeTopLevel.has(key))
      throw bundleError(
        "ERR_BUNDLE_INVALID",
        ctx.where,
        `${key}: kaupang does not render a top-level ${JSON.stringify(key)}; refused`,
      );
  }
  const expectedName = composeProjectName(ctx.project, ctx.environment);
  if (ctx.backend === "compose" && doc.name !== undefined && doc.name !== expectedName)
    throw bundleError(
      "ERR_BUNDLE_INVALID",
      ctx.where,
      `name: ${JSON.stringify(doc.name)} is not ${JSON.stringify(expectedName)}; refused`,
    );
  const network = projectNetworkName(ctx.project);
  for (const [key, value] of Object.entries(isObject(doc.networks) ? doc.networks : {})) {
    const name = isObject(value) ? value.name : undefined;
    if (!isObject(value) || value.external !== true || name !== network)
      throw bundleError(
        "ERR_BUNDLE_INVALID",
        ctx.where,
        `networks.${key}: only project ${ctx.project}'s network (external, named ${JSON.stringify(network)}) may be used, not ${JSON.stringify(name ?? key)}; refused`,
      );
  }
  for (const [key, value] of Object.entries(isObject(doc.volumes) ? doc.volumes : {})) {
    if (value !== null && !(isObject(value) && Object.keys(value).length === 0))
      throw bundleError(
        "ERR_BUNDLE_INVALID",
        ctx.where,
        `volumes.${key}: kaupang renders named volumes without options (a driver option can bind a host path); refused`,
      );
  }
  if (!isObject(doc.services))
    throw bundleError("ERR_BUNDLE_INVALID", ctx.where, "services: is not a map; refused");
  for (const [name, service] of Object.entries(doc.services)) {
    if (!isObject(service))
      throw bundleError("ERR_BUNDLE_INVALID", ctx.where, `services.${name}: is not a map; refused`);
    for (const key of hostServiceKeys) {
      if (key in service)
        throw bundleError(
          "ERR_BUNDLE_INVALID",
          ctx.where,
          `services.${name}.${key}: a bundle's artifact may not make compose read or build on the deploying host; refused`,
        );
    }
    for (const key of ["secrets", "configs"]) {
      if (key in service)
        throw bundleError(
          "ERR_BUNDLE_INVALID",
          ctx.where,
          `services.${name}.${key}: kaupang does not render ${key}; refused`,
        );
    }
    checkImage(service.image, `services.${name}.image`, ctx);
  }
}

function containersOf(object: Doc): unknown[] {
  const spec = object.spec as Doc | undefined;
  const pod = (spec?.template as Doc | undefined)?.spec as Doc | undefined;
  return [
    ...(Array.isArray(pod?.containers) ? pod.containers : []),
    ...(Array.isArray(pod?.initContainers) ? pod.initContainers : []),
  ];
}

/** The namespace an object is in ("Namespace": the one it names). */
const namespaceOf = (doc: Doc & { metadata: Doc }) =>
  doc.kind === "Namespace" ? doc.metadata.name : doc.metadata.namespace;

function checkKubernetes(docs: unknown[], ctx: ArtifactContext): void {
  let bundleNamespace: unknown;
  docs.forEach((doc, i) => {
    if (doc === null) return;
    if (!isObject(doc) || !isObject(doc.metadata))
      throw bundleError(
        "ERR_BUNDLE_INVALID",
        ctx.where,
        `document ${i + 1}: is not a Kubernetes object; refused`,
      );
    const kind = doc.kind;
    const field = `document ${i + 1} (${String(kind)} ${String(doc.metadata.name)})`;
    if (typeof kind !== "string" || !kubeKinds.has(kind))
      throw bundleError(
        "ERR_BUNDLE_INVALID",
        ctx.where,
        `${field}: kind: kaupang renders only ${[...kubeKinds].join(", ")}, not ${JSON.stringify(kind)}; refused`,
      );
    const namespace = namespaceOf(doc as Doc & { metadata: Doc });
    const at = `metadata.${kind === "Namespace" ? "name" : "namespace"}`;
    if (typeof namespace !== "string" || namespace === "")
      throw bundleError("ERR_BUNDLE_INVALID", ctx.where, `${field}: ${at}: is not set; refused`);
    bundleNamespace ??= namespace;
    if (namespace !== bundleNamespace)
      throw bundleError(
        "ERR_BUNDLE_INVALID",
        ctx.where,
        `${field}: ${at}: ${JSON.stringify(namespace)}, while the objects before it are in ${JSON.stringify(bundleNamespace)}; kaupang renders one namespace per target; refused`,
      );
    containersOf(doc).forEach((container, c) => {
      checkImage((container as Doc | null)?.image, `${field}: containers[${c}].image`, ctx);
    });
  });
}

/**
 * The checked Kubernetes artifact moved into the site's namespace: every
 * object's metadata.namespace (and the Namespace object's name) becomes the
 * site's. Unchanged text when the bundle was made for that namespace.
 */
function inSiteNamespace(content: string, docs: unknown[], namespace: string): string {
  const objects = docs.filter((d): d is Doc & { metadata: Doc } => isObject(d) && isObject(d.metadata));
  if (objects.every((d) => namespaceOf(d) === namespace)) return content;
  const moved = objects.map((d) =>
    d.kind === "Namespace"
      ? { ...d, metadata: { ...d.metadata, name: namespace } }
      : { ...d, metadata: { ...d.metadata, namespace } },
  );
  const header = /^# (.*)\n/.exec(content)?.[1];
  return header !== undefined ? artifactText(header, moved) : toYamlStream(moved);
}

/** Check an artifact; returns the text to deploy (a Kubernetes one in the site's namespace). */
export function checkArtifact(content: string, ctx: ArtifactContext): string {
  const docs = parse(content, ctx.where);
  if (ctx.backend !== "kubernetes") {
    checkCompose(docs, ctx);
    return content;
  }
  checkKubernetes(docs, ctx);
  return inSiteNamespace(content, docs, ctx.namespace);
}
