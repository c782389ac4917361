/**
 * The studio's HTTP API, as types shared by the server and the page (the page
 * imports them type-only). Every route lives under /api and needs the run's
 * token in the `token` query parameter.
 */
import type { WrittenEnvironment, WrittenService } from "@kaupang/core";

/** An environment as the page edits it: the written object an environment file exports. */
export type DraftEnvironment = WrittenEnvironment;
export type DraftService = WrittenService;
export type ExportFormat = "ts" | "json";

/** What the page needs first: the project, its environments and targets. */
export interface SessionResponse {
  /** Directory name of --cwd (never its contents). */
  cwd: string;
  /** The project, when kaupang.config.* loads; otherwise `projectError` says why. */
  project?: {
    name: string;
    environmentsDir: string;
    environments: { name: string; file: string }[];
    targets: string[];
    defaultTarget: string;
  };
  projectError?: string;
  /** Where the palette comes from: the --catalog given, or the project's catalog sources. */
  catalogLabel: string;
}

export interface Preset {
  name: string;
  /** The preset as the catalog writes it (an image string or a service object). */
  service: DraftService;
  image?: string;
  ports: string[];
  /** Label of the catalog source it came from. */
  source: string;
}

export type CatalogResponse =
  | { ok: true; label: string; presets: Preset[] }
  | { ok: false; label: string; error: string; hint?: string };

/** One problem the core reported, placed on what it concerns. */
export interface Problem {
  message: string;
  /** environment: the drawn environment's own settings; service: one node; project: elsewhere. */
  scope: "environment" | "service" | "project";
  service?: string;
  /** Top-level field of the service or environment (image, ports, env, dependsOn, name, …). */
  field?: string;
  /** The field path inside the environment, as the core reported it. */
  path: (string | number)[];
  /** Set when the problem is the dependency cycle (the page shows the cycle itself instead). */
  cycle?: true;
}

export interface Cycle {
  kind: "services" | "environments";
  /** The path that closes the cycle, first node repeated at the end. */
  nodes: string[];
}

export interface PlanRequest {
  name: string;
  environment: DraftEnvironment;
  target: string;
}

export interface PlanResponse {
  ok: boolean;
  problems: Problem[];
  cycle?: Cycle;
  /** File the environment is (or would be) read from, relative to --cwd. */
  file: string;
  /** Set when the plan succeeded. */
  plan?: {
    target: string;
    backend: string;
    environmentOrder: string[];
    /** Start waves of the drawn environment's services. */
    waves: string[][];
    secrets: string[];
    /** The rendered artifact of the drawn environment for the target (compose file, stack, manifests). */
    artifact: { path: string; content: string };
    /** The `kaupang up <name> --dry-run` text. */
    text: string;
  };
}

export interface ExportRequest {
  name: string;
  environment: DraftEnvironment;
  format: ExportFormat;
  /** The target the environment must plan for without a problem (default local). */
  target?: string;
}

export type ExportResponse =
  | { ok: true; file: string; content: string }
  | { ok: false; problems: Problem[]; cycle?: Cycle };

export interface SaveRequest extends ExportRequest {
  /** Replace an existing file of the same environment (the user confirmed). */
  overwrite?: boolean;
}

export type SaveResponse =
  | { ok: true; file: string; replaced?: string }
  | { ok: false; exists: string; message: string }
  | { ok: false; problems: Problem[]; cycle?: Cycle };

export interface ImportRequest {
  name: string;
}

export type ImportResponse =
  | {
      ok: true;
      name: string;
      environment: DraftEnvironment;
      file: string;
      format: ExportFormat;
      /** True when exporting it again gives the file byte for byte (the studio wrote it). */
      roundTrips: boolean;
    }
  | { ok: false; error: string };

/** Any API error: a message safe to show (it never quotes file contents). */
export interface ErrorResponse {
  error: string;
}
