export type { Backend, BackendContext, RunningService } from "./backends/backend.js";
export { isDuration, parseDuration } from "./base/duration.js";
export {
  type Cycle,
  formatProblem,
  isKaupangError,
  KaupangError,
  type KaupangErrorOptions,
  type Problem,
} from "./base/errors.js";
export type { EventSink, KaupangEvent } from "./base/events.js";
export { interrupt, interruptedBy, signalExitCode } from "./base/interrupt.js";
export { redact } from "./base/redact.js";
export { shortKeyId } from "./base/signing-keys.js";
export { type BundleOptions, type BundleResult, createBundle } from "./bundle/create.js";
export { generateKeyFiles } from "./bundle/sign.js";
export { type BundleUpOptions, deployBundle, type PlannedBundleUp, planBundleUp } from "./bundle/up.js";
export { type Catalog, loadCatalog } from "./config/catalog/catalog.js";
export { jsonSchemas } from "./config/json-schema.js";
export { configNames } from "./config/load.js";
export { defaultConfigLoadTimeoutMs, setConfigLoadTimeout } from "./config/load-worker.js";
export type { BackendName, Environment, Model, PullPolicy, Service, Target } from "./config/model.js";
export {
  createModel,
  type SelectedTarget,
  selectTarget,
  type WrittenClosure,
} from "./config/normalize.js";
export {
  catalogSource,
  type LoadModelOptions,
  loadModel,
  loadProject,
  Project,
  scratchProject,
} from "./config/project.js";
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
export { type DownOptions, type DownPlan, down, planDown } from "./deploy/down.js";
export { type HostsFailure, hostLabel, placementsOf } from "./deploy/hosts.js";
export { newDeploymentId } from "./deploy/ids.js";
export { exportLedger, type ImportResult, importLedger } from "./deploy/ledger-transfer.js";
export { type UnlockResult, unlock } from "./deploy/locks.js";
export { recordInterrupted } from "./deploy/outcome.js";
export { type Planned, type PlanUpOptions, planUp, type TargetOptions } from "./deploy/plan-up.js";
export { withRegistryLogins } from "./deploy/registry-logins.js";
export {
  chooseRollbackTarget,
  hostsOf,
  openLedger,
  openLedgers,
  planRollback,
  type RollbackContext,
  type RollbackOptions,
  rollback,
  rollbackHosts,
} from "./deploy/rollback.js";
export { unsetSecretsWarning } from "./deploy/secrets.js";
export {
  type ApplyOptions,
  type DeploymentSummary,
  defaultConcurrency,
  deployPlanned,
  type UpOptions,
  type UpResult,
  up,
} from "./deploy/up.js";
export type { ServiceUrl } from "./deploy/urls.js";
export { exec, runningChildCount, stopAllChildren } from "./exec/exec.js";
export { formatCommand } from "./exec/format.js";
export { resolveAll } from "./images/resolve.js";
export { type InitOptions, type InitResult, init, initFormats, type ReportLine } from "./init/entry.js";
export {
  type Change,
  diff,
  diffPlan,
  type EnvironmentDiff,
  recordChanges,
  rollbackChanges,
} from "./inspect/diff.js";
export {
  type PassthroughCommand,
  type PassthroughOptions,
  type PsEntry,
  passthroughCommands,
  ps,
  sinceProblem,
} from "./inspect/passthrough.js";
export { type Drift, type EnvironmentStatus, type LiveInstance, status } from "./inspect/status.js";
export { Ledger, type LedgerRead, ledgerAt, ledgerPath } from "./ledger/ledger.js";
export { describeHolder, type LockHolder } from "./ledger/lock.js";
export type { Deployment, LedgerRecord } from "./ledger/record.js";
export { currentRecord, deployments } from "./ledger/record.js";
export type { StoreLocation } from "./ledger/state-store.js";
export type { Scope, StateStore } from "./ledger/store.js";
export { type LedgerCheck, ledgerScopes, verifyLedgers } from "./ledger/verify-all.js";
export { type PipelinePlan, type PipelineStep, planPipeline, planRun } from "./pipeline/plan-pipeline.js";
export {
  type PipelineResult,
  type PreparedPipeline,
  preparePipeline,
  type RunPipelineOptions,
  runPipeline,
  type StepSummary,
} from "./pipeline/run-pipeline.js";
export { downCommands, upCommands } from "./plan/commands.js";
export { createPlan, isDigestRef } from "./plan/create-plan.js";
export type { EnvironmentPlan, Plan, PlanCommand, PlannedImage } from "./plan/types.js";
export type { DeploymentUnit } from "./plan/unit.js";
export { renderCompose } from "./render/compose.js";
export { kubernetesObjects, renderKubernetes } from "./render/kubernetes.js";
export { renderSwarm } from "./render/swarm.js";
