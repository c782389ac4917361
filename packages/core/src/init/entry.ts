/**
 * The public face of `kaupang init`, kept small: the converter and its
 * report load only when init runs, so other commands do not pay for them at
 * start-up (the bundle splits them into a chunk of their own).
 */
import type { InitOptions, InitResult } from "./init.js";

export type { ReportLine } from "./compose.js";
export type { InitOptions, InitResult } from "./init.js";

export const initFormats = ["ts", "mjs", "json"] as const;

/** Start a project (see init.ts). */
export async function init(options: InitOptions = {}): Promise<InitResult> {
  return (await import("./init.js")).init(options);
}
