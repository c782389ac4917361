import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { KaupangError } from "../../base/errors.js";
import { loadModuleFile } from "../load.js";
import type { CatalogSource } from "./source.js";

/** A manifest file committed next to the config or vendored from an infra repo (.json, .ts, .js). */
export function fileSource(root: string, path: string): CatalogSource {
  const file = resolve(root, path);
  return {
    label: path,
    async load() {
      if (!existsSync(file)) {
        throw new KaupangError(
          "ERR_CATALOG_UNREACHABLE",
          `catalog file ${path} does not exist (resolved to ${file})`,
        );
      }
      return loadModuleFile(file, path);
    },
  };
}
