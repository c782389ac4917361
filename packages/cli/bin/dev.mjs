#!/usr/bin/env node
// Run the CLI from source (no build step): TypeScript through jiti, with
// @kaupang/core and @kaupang/studio mapped to their packages' sources (the
// studio's page is served from packages/studio/dist/web: build it once).
import { fileURLToPath } from "node:url";
import { createJiti } from "jiti";

const core = fileURLToPath(new URL("../../core/src/index.ts", import.meta.url));
const studio = fileURLToPath(new URL("../../studio/src/index.ts", import.meta.url));
const jiti = createJiti(import.meta.url, { alias: { "@kaupang/core": core, "@kaupang/studio": studio } });
const { main } = await jiti.import(fileURLToPath(new URL("../src/cli.ts", import.meta.url)));
process.exitCode = await main(process.argv.slice(2));
