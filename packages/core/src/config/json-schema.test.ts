import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { jsonSchemas } from "./json-schema.js";

describe("published JSON Schemas", () => {
  const schemas = jsonSchemas();
  for (const name of ["config", "environment", "catalog"] as const) {
    it(`${name}.schema.json is generated from the validation schema`, async () => {
      await expect(`${JSON.stringify(schemas[name], null, 2)}\n`).toMatchFileSnapshot(
        `../../schema/${name}.schema.json`,
      );
    });
  }

  it("describes config options for editors", () => {
    const config = JSON.parse(
      readFileSync(new URL("../../schema/config.schema.json", import.meta.url), "utf8"),
    );
    expect(config.properties.dockerRepository.description).toBe("Prefix applied to bare image names.");
    expect(config.additionalProperties).toBe(false);
    expect(config.required).toEqual(["project"]);
  });
});
