/** The YAML reader, built into its own file (see tsup.config.ts): required on first use. */
export { parseAllDocuments } from "yaml";
