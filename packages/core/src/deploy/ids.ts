import { randomBytes } from "node:crypto";

/** A sortable deployment id: UTC time to the second, then 4 random hex digits (20260612T140000Z-ab12). */
export function newDeploymentId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}
