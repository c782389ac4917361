export { type Planned, type PlanUpOptions, planRun, planUp, type TargetOptions } from "./api.js";
export { type BundleOptions, type BundleResult, createBundle } from "./bundle/create.js";
export { type Catalog, loadCatalog } from "./catalog/catalog.js";
export { isDuration, parseDuration } from "./config/duration.js";
export { jsonSchemas } from "./config/json-schema.js";
export type { BackendName, Environment, Model, PullPolicy, Service, Target } from "./config/model.js";
export { createModel, selectTarget } from "./config/normalize.js";
export { catalogSource, loadProject, Project } from "./config/project.js";
export {
  backendNames,
  CatalogManifestSchema,
  ConfigSchema,
  EnvironmentSchema,
  pullPolicies,
} from "./config/schema.js";
export type * from "./config/written.js";
export { defineConfig, defineEnvironment, definePipeline, secret, use } from "./define.js";
export { type BuildOptions, type BuildPlan, build, planBuild } from "./deploy/build.js";
export { type BundleUpOptions, deployBundle, planBundleUp } from "./deploy/bundle-up.js";
export { registerBackend } from "./deploy/context.js";
export { type DownOptions, type DownPlan, down, planDown } from "./deploy/down.js";
export { newDeploymentId } from "./deploy/ids.js";
export {
  chooseRollbackTarget,
  openLedger,
  planRollback,
  type RollbackOptions,
  rollback,
} from "./deploy/rollback.js";
export {
  type ApplyOptions,
  type DeploymentSummary,
  deployPlanned,
  type UpOptions,
  type UpResult,
  up,
} from "./deploy/up.js";
export { isKaupangError, KaupangError } from "./errors.js";
export type { EventSink, KaupangEvent } from "./events.js";
export { exec, stopAllChildren } from "./exec/exec.js";
export { formatCommand } from "./exec/format.js";
export { resolveAll } from "./images/resolve.js";
export { type Conversion, type ConvertOptions, convertCompose, type ReportLine } from "./init/compose.js";
export { readCompose } from "./init/compose-read.js";
export { type InitOptions, type InitResult, init, reportLines } from "./init/init.js";
export { type InitFormat, initFormats } from "./init/source.js";
export { Ledger, ledgerPath } from "./ledger/ledger.js";
export type { DeploymentUnit, LedgerRecord } from "./ledger/record.js";
export { type LedgerCheck, verifyLedgers } from "./ledger/verify-all.js";
export { diff, diffPlan, type EnvironmentDiff } from "./ops/diff.js";
export { type PassthroughOptions, passthroughCommands } from "./ops/passthrough.js";
export { currentRecord, type Drift, type EnvironmentStatus, status } from "./ops/status.js";
export type { Change } from "./ops/view.js";
export { type PipelinePlan, type PipelineStep, planPipeline } from "./pipeline/plan-pipeline.js";
export {
  type PipelineResult,
  preparePipeline,
  type RunPipelineOptions,
  runPipeline,
  type StepSummary,
} from "./pipeline/run-pipeline.js";
export { downCommands, upCommands } from "./plan/commands.js";
export { createPlan, isDigestRef } from "./plan/create-plan.js";
export type { EnvironmentPlan, Plan, PlanCommand, PlannedImage } from "./plan/types.js";
export { renderCompose } from "./render/compose.js";
export { kubernetesObjects, renderKubernetes } from "./render/kubernetes.js";
export { renderSwarm } from "./render/swarm.js";
