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
import { portProblem } from "./ports.js";

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

/** Text made into a name kaupang accepts ("My_App" → "my-app"); `fallback` when nothing is left. */
export function nameFrom(text: string, fallback: string): string {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .replace(/-{2,}/g, "-")
    .slice(0, 63)
    .replace(/-+$/, "");
  return name === "" ? fallback : name;
}

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
  .refine((value) => portProblem(value) === undefined, {
    error: (issue) =>
      `${showValue(issue.input)} is not a port mapping: ${portProblem(issue.input as string | number)}`,
  })
  .describe(
    '"host:container", "container", "ip:host:container", or ranges such as "8000-8001:8000-8001"; optionally "/tcp" or "/udp".',
  );

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

/** A DNS name a route answers for; a leading "*." matches one label. */
const hostPattern = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

const tlsModes = ["auto", "internal", "off"] as const;

const RouteHost = z
  .string()
  .refine((h) => hostPattern.test(h) && h.length <= 253, {
    error: (issue) => `${showValue(issue.input)} is not a host name (e.g. "shop.example.com")`,
  })
  .describe('Host name the route answers for, e.g. "shop.example.com" (the Host header of requests).');

const RouteSchema = strict({
  host: RouteHost,
  path: z
    .string()
    .regex(/^\/[^\s?#*]*$/, {
      error: (issue) =>
        `${showValue(issue.input)} is not a path prefix (starts with "/", no "?", "#" or "*")`,
    })
    .optional()
    .describe('Path prefix the route answers for; default "/" (everything). Requests keep their path.'),
  port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe("Container port requests go to; one of the service's ports (default: its only one)."),
  tls: oneOf(tlsModes)
    .optional()
    .describe(
      "off (default): plain HTTP; internal: HTTPS with a certificate from the proxy's local CA; auto: HTTPS with a certificate from a public CA (real host names only).",
    ),
  tlsSecret: z
    .string()
    .optional()
    .describe("Kubernetes: the Secret holding the route's certificate (default <service>-tls)."),
});

const Http = z
  .union([
    RouteHost,
    RouteSchema,
    z.array(z.union([RouteHost, RouteSchema])).min(1, { error: "give at least one route" }),
  ])
  .describe(
    "How the service is reached over HTTP through the proxy: a host name, a route { host, path, port, tls }, or a list of them.",
  );
const cpusMessage = (input: unknown) =>
  `${showValue(input)} is not a number of CPUs (use a positive number: 0.5, 2, "1.5")`;

const serviceShape = {
  image: z.string().min(1).optional().describe("Image reference; bare names get dockerRepository as prefix."),
  build: Build.optional().describe("Build the image from a context (kaupang build)."),
  ports: z.array(Port).optional(),
  env: EnvMap.optional(),
  command: StringOrList.optional().describe("Overrides the image's CMD."),
  entrypoint: StringOrList.optional().describe("Overrides the image's ENTRYPOINT."),
  workingDir: z.string().optional().describe("Working directory inside the container."),
  workingDirectory: z.string().optional().describe("Another spelling of workingDir."),
  volumes: z
    .array(z.string())
    .optional()
    .describe(
      'Compose short syntax: "name:/path" (a volume of the environment\'s volumes, or a new one) or "./dir:/path[:ro]".',
    ),
  networks: z
    .array(z.string())
    .optional()
    .describe("Networks from the environment's networks this service joins, besides the project network."),
  capAdd: z.array(z.string()).optional().describe('Linux capabilities to add, e.g. "NET_ADMIN".'),
  capDrop: z.array(z.string()).optional().describe('Linux capabilities to drop, e.g. "ALL".'),
  healthcheck: Healthcheck.optional(),
  restart: oneOf(["no", "always", "on-failure", "unless-stopped"] as const).optional(),
  runOnce: z
    .boolean()
    .optional()
    .describe("A one-shot task (e.g. migrations): dependents start after it exits 0."),
  replicas: z.number().int().min(0).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  pull: Pull.optional(),
  http: Http.optional(),
  dependsOn: StringOrList.optional().describe("Services of the same environment that must start first."),
  resources: strict({
    cpus: z
      .union([
        z.number().positive({ error: (issue) => cpusMessage(issue.input) }),
        z.string().regex(/^\d+(\.\d+)?$/, { error: (issue) => cpusMessage(issue.input) }),
      ])
      .optional(),
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

/** What use(name, overrides) may override: a service without a catalog reference. */
const ServiceOverridesSchema = strict(serviceShape).describe("Deep-merged over the catalog preset.");

export const ServiceObjectSchema = strict({
  $catalog: z.string().optional().describe("Name of a catalog preset this service starts from."),
  overrides: ServiceOverridesSchema.optional().describe(
    'With $catalog: settings deep-merged over the preset (the same as writing them beside "$catalog").',
  ),
  ...serviceShape,
});
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

const NameList = z.array(z.string());
const driverOpts = z.record(z.string(), z.string()).optional().describe("Driver options.");
const NetworkSchema = strict({
  name: z
    .string()
    .optional()
    .describe("The network's full name (default: <compose project or stack>_<key>)."),
  external: z.boolean().optional().describe("Created outside kaupang: used, never created or removed."),
  driver: z.string().optional().describe("bridge (compose) / overlay (swarm) by default."),
  driverOpts,
  internal: z.boolean().optional().describe("No access to the outside."),
  labels: z.record(z.string(), z.string()).optional(),
});
const VolumeSchema = strict({
  name: z.string().optional().describe("The volume's full name (default: <compose project or stack>_<key>)."),
  external: z.boolean().optional().describe("Created outside kaupang: used, never created or removed."),
  driver: z.string().optional(),
  driverOpts,
  labels: z.record(z.string(), z.string()).optional(),
});

export const EnvironmentSchema = strict({
  $schema: z.string().optional(),
  name: z
    .string()
    .optional()
    .describe(
      "The environment's name when it differs from its file or folder name (commands and dependsOn use it).",
    ),
  dependsOn: StringOrList.optional().describe("Other environments this one needs, deployed first."),
  env: EnvMap.optional().describe("Env for every service of this environment."),
  dockerRepository: z
    .string()
    .optional()
    .describe("Prefix for bare image names of this environment's services (instead of the project's)."),
  pull: Pull.optional().describe("Pull policy for this environment's services that set none."),
  networks: z
    .union([NameList, z.record(z.string(), NetworkSchema.nullable())])
    .optional()
    .describe("Named networks its services can join (compose and swarm): a list of names or name → options."),
  volumes: z
    .union([NameList, z.record(z.string(), VolumeSchema.nullable())])
    .optional()
    .describe("Named volumes its services can mount (compose and swarm): a list of names or name → options."),
  services: z.record(z.string(), ServiceSchema),
  hooks: strict({
    beforeUp: Hooks.optional(),
    afterUp: Hooks.optional(),
    beforeDown: Hooks.optional(),
    afterDown: Hooks.optional(),
  }).optional(),
});

const HostPort = z.number().int().min(1).max(65535);

const ProxySchema = strict({
  name: z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, {
      error: (issue) => `${showValue(issue.input)} is not a container or service name`,
    })
    .optional()
    .describe(
      'Name of the proxy container (compose) or service (swarm); default "kaupang-proxy". One per engine.',
    ),
  image: z.string().min(1).optional().describe('Proxy image: Caddy 2.6 or newer; default "caddy:2".'),
  httpPort: HostPort.optional().describe("Host port the proxy answers HTTP on (default 80)."),
  httpsPort: HostPort.optional().describe("Host port the proxy answers HTTPS on (default 443)."),
  adminAddress: z
    .string()
    .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
      error: (issue) => `${showValue(issue.input)} is not a host:port address`,
    })
    .optional()
    .describe(
      'Where kaupang reaches Caddy\'s admin API, host:port (default "127.0.0.1:2019"); the proxy publishes its admin port there.',
    ),
  drainTimeout: Duration.optional().describe(
    "How long old containers may finish the requests they have after a switch (default 30s).",
  ),
  ingressClassName: z
    .string()
    .optional()
    .describe("Kubernetes: ingressClassName of the Ingresses (default: the cluster's default class)."),
  server: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      "A raw Caddy server object (listen, routes, …) kaupang installs as server kaupang.<project> (escape hatch).",
    ),
}).describe(
  "The HTTP proxy routes go through: Caddy on compose and swarm, an Ingress controller on Kubernetes.",
);
const RollbackOnFailure = z
  .boolean()
  .optional()
  .describe(
    "When a deploy's apply, verify or afterUp hook fails, re-apply the environment's last succeeded deploy (recorded as a rollback) and still fail. Default false; up --rollback-on-failure overrides.",
  );

export const TargetSchema = strict({
  backend: Backend.optional(),
  dockerContext: z.string().optional().describe("docker --context for this target."),
  dockerHost: z
    .string()
    .regex(/^(unix|tcp|ssh|npipe|fd):\/\/\S*$/, {
      error: (i) => `${showValue(i.input)} is not a docker host (unix://…, tcp://…, ssh://…)`,
    })
    .optional()
    .describe("The engine for this target's docker commands (what DOCKER_HOST sets): docker --host …"),
  hosts: z
    .array(
      z.string().regex(/^ssh:\/\/[^\s/@]+@?[^\s/@]*$/, {
        error: (issue) => `${JSON.stringify(issue.input)}: expected "ssh://[user@]host[:port]"`,
      }),
    )
    .min(1)
    .optional()
    .describe(
      "compose: Docker hosts to deploy to over ssh, one after the other, each health-gated (ssh://[user@]host[:port]). Each host has its own ledger; with state: \"target\" it and the host's lock are kept on that host's engine.",
    ),
  kubeContext: z.string().optional().describe("kubectl --context for this target."),
  kubeconfig: z.string().optional().describe("KUBECONFIG for this target's kubectl runs."),
  namespace: z.string().optional().describe("Kubernetes namespace (default: the project name)."),
  imagePullSecrets: z
    .array(
      z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, {
        error: (i) => `${showValue(i.input)} is not a Secret name (lowercase letters, digits, '-', '.')`,
      }),
    )
    .optional()
    .describe(
      "Kubernetes: existing Secrets of type kubernetes.io/dockerconfigjson in the namespace that every pod pulls its image with (imagePullSecrets). kaupang references them, never reads them.",
    ),
  registryAuth: z
    .boolean()
    .optional()
    .describe(
      "Kubernetes: pass the deployer's docker login for the registries of an environment's images to the cluster, like swarm's --with-registry-auth (default true). kaupang writes it to Secret <project>-<environment>-registry-auth (kubernetes.io/dockerconfigjson, through kubectl's stdin, never to a file, the dry run or the ledger) and the environment's pods pull with it. false: only imagePullSecrets.",
    ),
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
  proxy: ProxySchema.optional(),
  pull: Pull.optional(),
  env: EnvMap.optional(),
  rollbackOnFailure: RollbackOnFailure,
  state: oneOf(["local", "target"] as const)
    .optional()
    .describe(
      'Where the ledger, the deployment units and the deploy lock live. "local" (default): cacheDir on the machine that runs kaupang. "target": on the target itself (Kubernetes: a Lease and Secrets in the namespace; swarm: configs; compose: volumes on the engine, on each host\'s engine for a target with hosts), so every machine that deploys shares one history and one lock.',
    ),
  requireSignature: strict({
    key: z.string().describe("Ed25519 public key (PEM), relative to the config root."),
  })
    .optional()
    .describe(
      "Deploy bundles to this target only when signed by this key (`up --bundle`); rollback stays among them.",
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
  run: z
    .union([
      z.string(),
      strict({
        run: z.string(),
        cwd: z.string().optional(),
        env: z.record(z.string(), z.string()).optional(),
      }),
    ])
    .optional()
    .describe("A shell command from the config root, or { run, cwd, env }."),
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
