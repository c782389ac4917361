import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
/** The CLI package version (read once, at startup). */
export const version: string = (require("../package.json") as { version: string }).version;
