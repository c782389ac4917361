/**
 * The helpers a user's config imports. They are identity functions or build
 * plain data, so a config written with them and one written as JSON produce
 * exactly the same objects. This file has no imports on purpose: it is what
 * `import … from "@kaupang/core"` resolves to inside a user's config, and it
 * must load fast and identically in every copy.
 */
import type {
  CatalogRef,
  SecretRef,
  WrittenConfig,
  WrittenEnvironment,
  WrittenPipeline,
  WrittenService,
} from "./config/written.js";

/** Declare the project config (`kaupang.config.*`). Returns its argument. */
export function defineConfig(config: WrittenConfig): WrittenConfig {
  return config;
}

/** Declare one environment (`environments/<name>.*`). Returns its argument. */
export function defineEnvironment(environment: WrittenEnvironment): WrittenEnvironment {
  return environment;
}

/** Declare a pipeline (a DAG of steps). Returns its argument. */
export function definePipeline(pipeline: WrittenPipeline): WrittenPipeline {
  return pipeline;
}

/**
 * A service from the catalog, optionally with overrides deep-merged over the
 * preset. Same data as the JSON form `{ "$catalog": name, ...overrides }`.
 */
export function use(name: string, overrides: Omit<WrittenService, "$catalog"> = {}): CatalogRef {
  return { ...overrides, $catalog: name };
}

/**
 * An env value held out of every file kaupang writes: the container gets the
 * host variable `variable` at runtime. Same data as `{ "$secret": variable }`.
 */
export function secret(variable: string): SecretRef {
  return { $secret: variable };
}
