/** The types of what users write, inferred from the one schema. */
import type * as z from "zod";
import type {
  CatalogManifestSchema,
  ConfigSchema,
  EnvironmentSchema,
  PipelineSchema,
  SecretRefSchema,
  ServiceObjectSchema,
  ServiceSchema,
  SolutionSchema,
  TargetSchema,
} from "./schema.js";

export type WrittenConfig = z.input<typeof ConfigSchema>;
export type WrittenEnvironment = z.input<typeof EnvironmentSchema>;
export type WrittenService = z.input<typeof ServiceObjectSchema>;
export type WrittenServiceEntry = z.input<typeof ServiceSchema>;
export type WrittenTarget = z.input<typeof TargetSchema>;
export type WrittenSolution = z.input<typeof SolutionSchema>;
export type WrittenPipeline = z.input<typeof PipelineSchema>;
export type WrittenCatalog = z.input<typeof CatalogManifestSchema>;
export type SecretRef = z.input<typeof SecretRefSchema>;
export type CatalogRef = WrittenService & { $catalog: string };
/** What `import type { KaupangConfig } from "kaupang"` names in a JS config's JSDoc. */
export type KaupangConfig = WrittenConfig;

/** A config file after validation (defaults not yet applied: that is normalize's job). */
export type Config = z.output<typeof ConfigSchema>;
/** An environment file after validation. */
export type ValidEnvironment = z.output<typeof EnvironmentSchema>;
export type Solution = NonNullable<Config["solutions"]>[string];
