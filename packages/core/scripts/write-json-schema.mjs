// Writes the JSON Schemas for editors (kaupang.config.json, environment and
// catalog JSON files) from the same zod schema kaupang validates with.
import { mkdirSync, writeFileSync } from "node:fs";
import { jsonSchemas } from "../dist/index.js";

const dir = new URL("../schema/", import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [name, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(new URL(`${name}.schema.json`, dir), `${JSON.stringify(schema, null, 2)}\n`);
}
