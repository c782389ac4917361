/**
 * The one schema for everything a user writes: the project config, environment
 * files, services, targets, solutions and pipelines. Validation, the written
 * TypeScript types and the JSON Schema published for editors all come from
 * here, so they cannot drift.
 */
import * as z from "zod";
import { didYouMean } from "../base/did-you-mean.js";
import { isDuration } from "../base/duration.js";
import { showValue } from "../base/errors.js";
import { isPortMapping } from "./ports.js";

/** A strict object whose unknown keys are reported with a "did you mean". */
function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === "unrecognized_keys") {
        const key = issue.keys[0] ?? "";
        return `unknown key${didYouMean(key, known)}`;
      }
      if (issue.code === "invalid_type") return `expected an object, got ${showValue(issue.input)}`;
      return undefined;
    },
  });
}

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, {
    error: (issue) =>
      `${showValue(issue.input)} is not one of ${values.join(", ")}${
        typeof issue.input === "string" ? didYouMean(issue.input, values) : ""
      }`,
  });

const namePattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** The rule project, environment and service names follow (they become DNS labels and object names). */
export const nameRule =
  'lowercase letters, digits and "-" (at most 63, starting and ending with a letter or digit)';

export function isValidName(name: string): boolean {
  return namePattern.test(name);
}

export const backendNames = ["compose", "swarm", "kubernetes"] as const;
export const pullPolicies = ["always", "missing", "never"] as const;

const Backend = oneOf(backendNames).describe(
  "Where the environment is deployed: compose | swarm | kubernetes.",
);
const Pull = oneOf(pullPolicies).describe("When to pull images: always | missing | never.");

const Duration = z
  .string()
  .refine(isDuration, {
    error: (issue) => `${showValue(issue.input)} is not a duration (use 500ms, 2s, 2m, 1h)`,
  })
  .describe('A duration such as "500ms", "2s", "2m" or "1h".');

export const SecretRefSchema = strict({
  $secret: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
      error: (i) => `${showValue(i.input)} is not an environment variable name`,
    })
    .describe("Name of the host environment variable that holds the value at deploy time."),
}).describe("A secret reference: the value never lands in any file kaupang writes.");

const EnvValue = z
  .union([z.string(), z.number(), z.boolean(), SecretRefSchema])
  .describe('A literal value, or a secret reference { "$secret": "HOST_VAR" }.');

const EnvMap = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, {
      error: (i) => `${showValue(i.input)} is not an environment variable name`,
    }),
    EnvValue,
  )
  .describe("Environment variables for the container.");

const StringOrList = z.union([z.string(), z.array(z.string())]);

const Port = z
  .union([z.string(), z.number()])
  .refine(isPortMapping, { error: (issue) => `${showValue(issue.input)} is not a port mapping` })
  .describe('"host:container", "container", "ip:host:container", optionally "/tcp" or "/udp".');

const Healthcheck = strict({
  test: StringOrList.describe('["CMD", "bin", "arg"], ["CMD-SHELL", "cmd"], or a shell string.'),
  interval: Duration.optional(),
  timeout: Duration.optional(),
  retries: z.number().int().min(0).optional(),
  startPeriod: Duration.optional(),
});

const Build = z.union([
  z.string().describe("Build context directory, relative to the config root."),
  strict({
    context: z.string().describe("Build context directory, relative to the config root."),
    dockerfile: z.string().optional().describe("Dockerfile path inside the context."),
    args: z.record(z.string(), z.string()).optional().describe("Build arguments."),
    target: z.string().optional().describe("Build stage to stop at."),
  }),
]);

const Memory = z
  .union([z.string(), z.number()])
  .refine((v) => typeof v === "number" || /^\d+(\.\d+)?\s*[bkmg]?$/i.test(v), {
    error: (issue) => `${showValue(issue.input)} is not a memory size (use bytes or 512m, 1g)`,
  });

const serviceShape = {
  $catalog: z.string().optional().describe("Name of a catalog preset this service starts from."),
  image: z.string().min(1).optional().describe("Image reference; bare names get dockerRepository as prefix."),
  build: Build.optional().describe("Build the image from a context (kaupang build)."),
  ports: z.array(Port).optional(),
  env: EnvMap.optional(),
  command: StringOrList.optional().describe("Overrides the image's CMD."),
  entrypoint: StringOrList.optional().describe("Overrides the image's ENTRYPOINT."),
  workingDir: z.string().optional(),
  volumes: z
    .array(z.string())
    .optional()
    .describe('Compose short syntax: "name:/path" or "./dir:/path[:ro]".'),
  healthcheck: Healthcheck.optional(),
  restart: oneOf(["no", "always", "on-failure", "unless-stopped"] as const).optional(),
  runOnce: z
    .boolean()
    .optional()
    .describe("A one-shot task (e.g. migrations): dependents start after it exits 0."),
  replicas: z.number().int().min(0).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  pull: Pull.optional(),
  dependsOn: StringOrList.optional().describe("Services of the same environment that must start first."),
  resources: strict({
    cpus: z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?$/)]).optional(),
    memory: Memory.optional(),
  }).optional(),
  compose: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("Merged raw into the rendered compose/swarm service (escape hatch)."),
  kubernetes: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("Merged raw into the rendered Kubernetes container (escape hatch)."),
};

export const ServiceObjectSchema = strict(serviceShape);
export const ServiceSchema = z
  .union([z.string().min(1).describe("Shorthand for { image }."), ServiceObjectSchema])
  .describe("A service: an image string, a full object, or a catalog reference.");

const HookSchema = z.union([
  z.string(),
  strict({
    run: z.string(),
    cwd: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
  }),
]);
const Hooks = z.union([HookSchema, z.array(HookSchema)]);

export const EnvironmentSchema = strict({
  $schema: z.string().optional(),
  dependsOn: StringOrList.optional().describe("Other environments this one needs, deployed first."),
  env: EnvMap.optional().describe("Env for every service of this environment."),
  services: z.record(z.string(), ServiceSchema),
  hooks: strict({
    beforeUp: Hooks.optional(),
    afterUp: Hooks.optional(),
    beforeDown: Hooks.optional(),
    afterDown: Hooks.optional(),
  }).optional(),
});

const RollbackOnFailure = z
  .boolean()
  .optional()
  .describe(
    "When a deploy's apply, verify or afterUp hook fails, re-apply the environment's last succeeded deploy (recorded as a rollback) and still fail. Default false; up --rollback-on-failure overrides.",
  );

export const TargetSchema = strict({
  backend: Backend.optional(),
  dockerContext: z.string().optional().describe("docker --context for this target."),
  kubeContext: z.string().optional().describe("kubectl --context for this target."),
  kubeconfig: z.string().optional().describe("KUBECONFIG for this target's kubectl runs."),
  namespace: z.string().optional().describe("Kubernetes namespace (default: the project name)."),
  swarm: strict({
    portMode: oneOf(["ingress", "host"] as const)
      .optional()
      .describe("ingress (routing mesh, default) or host (publish on the node running the task)."),
    endpointMode: oneOf(["vip", "dnsrr"] as const)
      .optional()
      .describe("vip (default) or dnsrr: service names resolve straight to task addresses."),
  })
    .optional()
    .describe("Swarm networking for hosts without IPVS, or to keep client addresses (host ports + dnsrr)."),
  pull: Pull.optional(),
  env: EnvMap.optional(),
  rollbackOnFailure: RollbackOnFailure,
  state: oneOf(["local", "target"] as const)
    .optional()
    .describe(
      'Where the ledger, the deployment units and the deploy lock live. "local" (default): cacheDir on the machine that runs kaupang. "target": on the target itself (Kubernetes: a Lease and Secrets in the namespace; swarm: configs; compose: volumes on the engine), so every machine that deploys shares one history and one lock.',
    ),
});

const optionalFlag = z.boolean().optional().describe("An unreachable source is skipped instead of failing.");
const headers = z.record(z.string(), z.string()).optional();
const CatalogSourceSchema = z.discriminatedUnion(
  "type",
  [
    strict({ type: z.literal("file"), path: z.string() }),
    strict({ type: z.literal("http"), url: z.string(), headers, optional: optionalFlag }),
    strict({ type: z.literal("service"), url: z.string(), headers, optional: optionalFlag }),
    strict({ type: z.literal("oci"), ref: z.string(), path: z.string().optional(), optional: optionalFlag }),
  ],
  {
    error: (i) =>
      `${showValue((i.input as { type?: unknown })?.type)} is not a catalog source type (file, http, service, oci)`,
  },
);

export const SolutionSchema = strict({
  version: z.string(),
  environments: z.array(z.string()).min(1),
  pins: z.record(z.string(), z.string()).optional().describe('"env.service": "image@sha256:…"'),
  env: EnvMap.optional(),
  target: z.string().optional(),
});

const StepSchema = strict({
  run: z.string().optional(),
  up: z.string().optional(),
  down: z.string().optional(),
  build: z.string().optional(),
  wait: z
    .union([
      strict({
        http: z.string(),
        status: z.number().int().optional(),
        interval: Duration.optional(),
        timeout: Duration.optional(),
      }),
      strict({ seconds: z.number().nonnegative() }),
    ])
    .optional(),
  needs: StringOrList.optional(),
  target: z.string().optional(),
  backend: Backend.optional(),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).optional(),
  push: z.boolean().optional(),
  rollbackOnFailure: RollbackOnFailure,
}).superRefine((step, ctx) => {
  const actions = (["run", "up", "down", "build", "wait"] as const).filter((k) => step[k] !== undefined);
  if (actions.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message: `a step needs exactly one of run, up, down, build, wait (found ${actions.length === 0 ? "none" : actions.join(", ")})`,
    });
  }
});

export const PipelineSchema = strict({ steps: z.record(z.string(), StepSchema) });

export const ConfigSchema = strict({
  $schema: z.string().optional(),
  environments: z.string().default("./environments").describe("Folder of environment files."),
  project: z
    .string()
    .describe("Project name: prefixes compose projects, swarm stacks and the Kubernetes namespace."),
  defaultBackend: Backend.optional(),
  dockerRepository: z.string().optional().describe("Prefix applied to bare image names."),
  defaultPull: Pull.optional(),
  cacheDir: z.string().optional().describe("Where generated files and the ledger live (default .kaupang)."),
  globalEnv: EnvMap.optional().describe("Injected into every service everywhere."),
  rollbackOnFailure: RollbackOnFailure,
  catalog: strict({ sources: z.array(CatalogSourceSchema) }).optional(),
  targets: z.record(z.string(), TargetSchema).optional(),
  solutions: z.record(z.string(), SolutionSchema).optional(),
  pipelines: z.record(z.string(), PipelineSchema).optional(),
});

export const CatalogManifestSchema = strict({
  $schema: z.string().optional(),
  services: z.record(z.string(), ServiceSchema).optional(),
  solutions: z.record(z.string(), SolutionSchema).optional(),
});
