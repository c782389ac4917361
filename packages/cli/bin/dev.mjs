#!/usr/bin/env node
// Run the CLI from source (no build step): TypeScript through jiti, with
// @kaupang/core mapped to the core package's sources.
import { fileURLToPath } from "node:url";
import { createJiti } from "jiti";

const core = fileURLToPath(new URL("../../core/src/index.ts", import.meta.url));
const jiti = createJiti(import.meta.url, { alias: { "@kaupang/core": core } });
const { main } = await jiti.import(fileURLToPath(new URL("../src/cli.ts", import.meta.url)));
process.exitCode = await main(process.argv.slice(2));
