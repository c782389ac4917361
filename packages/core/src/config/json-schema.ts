import * as z from "zod";
import { CatalogManifestSchema, ConfigSchema, EnvironmentSchema } from "./schema.js";

/** JSON Schemas (draft 2020-12) for the files users write, generated from the validation schema. */
export function jsonSchemas(): Record<"config" | "environment" | "catalog", unknown> {
  const make = (schema: z.ZodType, title: string) => ({
    ...z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }),
    title,
  });
  return {
    config: make(ConfigSchema, "kaupang config (kaupang.config.json)"),
    environment: make(EnvironmentSchema, "kaupang environment (environments/<name>.json)"),
    catalog: make(CatalogManifestSchema, "kaupang catalog manifest"),
  };
}
