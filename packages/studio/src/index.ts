/**
 * kaupang studio: a visual builder for environments. `startStudio` serves the
 * page and its API; the CLI's `kaupang studio` starts it.
 */
export type * from "./server/api-types.js";
export { exportEnvironment } from "./server/serialize.js";
export { type Studio, type StudioOptions, startStudio } from "./server/server.js";
