/**
 * `kaupang up --bundle <dir|oci://ref>`: verify the bundle, load its images,
 * and replay its pinned units through the one apply path — no source repo,
 * no kaupang config, no registry. Where it deploys is the site's decision
 * (its config's target, or flags and the environment without one); the
 * bundle must agree with it. Recorded in the ledger with the bundle's
 * provenance, so rollback stays among the versions carried in.
 */
import { relative, resolve } from "node:path";
import type { BackendContext } from "../backends/backend.js";
import { backendFor, defaultTimeoutMs } from "../backends/context.js";
import { silent } from "../base/events.js";
import type { BackendName, PullPolicy, TargetSettings } from "../base/target.js";
import { selectTarget } from "../config/normalize.js";
import { applyUnit, type DeploymentSummary } from "../deploy/apply-unit.js";
import { eachHost, hostEvents, hostLabel, placementsOf } from "../deploy/hosts.js";
import { lockEnvironments } from "../deploy/locks.js";
import { type RollbackBounds, requiredSignatureKey, siteBounds } from "../deploy/rollback-bounds.js";
import { currentFingerprints } from "../deploy/secret-fingerprints.js";
import { checkSecrets } from "../deploy/secrets.js";
import { locateState, rememberRemoteState } from "../deploy/state-location.js";
import { type ApplyOptions, restoreDoneHosts, rollbackOnFailureFor, type UpResult } from "../deploy/up.js";
import { execOk } from "../exec/exec.js";
import { localImageIds } from "../images/local.js";
import { ledgerAt } from "../ledger/ledger.js";
import { currentRecord } from "../ledger/record.js";
import type { RemoteState } from "../ledger/state-store.js";
import { imageLoadCommand, upCommands } from "../plan/commands.js";
import type { PlanCommand } from "../plan/types.js";
import type { DeploymentUnit } from "../plan/unit.js";
import { bundleError } from "./files.js";
import { bundleManifestName } from "./manifest.js";
import { type BundleSite, type OpenBundle, openBundle, type RequiredKey } from "./open.js";

export interface BundleUpOptions extends ApplyOptions {
  bundle: string;
  cwd?: string | undefined;
  target?: string | undefined;
  /** Without a config: the backend to deploy with (default compose); with one, overrides the target's. */
  backend?: BackendName | undefined;
  pull?: PullPolicy | undefined;
  /** Public key files the bundle must be signed with (`--verify`). */
  verify?: readonly string[] | undefined;
  /** The manifest digest the bundle must have (`--expect-digest sha256:…`). */
  expectDigest?: string | undefined;
  /** Only these of the target's hosts (`--hosts`), for a bundle made for a target with hosts. */
  hosts?: readonly string[] | undefined;
  /**
   * When apply or verify fails, re-apply the environment's last succeeded
   * deploy within the site's rollback bounds, and still fail. Default: the
   * site's config (its target's or its own `rollbackOnFailure`), else false;
   * never the bundle's.
   */
  rollbackOnFailure?: boolean | undefined;
}

export interface PlannedBundleUp extends OpenBundle {
  root: string;
  cacheDir: string;
  /**
   * Set when the target keeps its deploy state on itself: by the site's
   * config; without one, by the bundle (made for such a target), or as the
   * site remembers from an earlier bundle.
   */
  remote: RemoteState | undefined;
  /** A site without a config: remember where the state lives, for rollback and history later. */
  rememberRemote?: boolean;
  /** The image load that runs first, when the bundle carries images (only if the engine lacks one). */
  loadImages?: PlanCommand;
  /** Every command the deploy runs, in order: per host of the target (or once), the image load, then each unit's. */
  commands: { scope: string; command: PlanCommand }[];
  /** Whether a failure re-applies the last succeeded deploy (the site's choice), and within which bounds. */
  rollbackOnFailure: { bounds: RollbackBounds | undefined } | undefined;
}

/** The site's side of a bundle deploy: where, with what, and which keys it requires. */
async function bundleSite(options: BundleUpOptions): Promise<{
  site: BundleSite;
  keys: RequiredKey[];
  remote: RemoteState | undefined;
  rollbackOnFailure: PlannedBundleUp["rollbackOnFailure"];
}> {
  const state = await locateState({ cwd: options.cwd, target: options.target });
  // The site's choice (the flag, else its config), bounded as `kaupang rollback` is here.
  const rollbackOnFailure = rollbackOnFailureFor(
    state.project?.config,
    state.target,
    options.rollbackOnFailure,
  )
    ? { bounds: siteBounds(state) }
    : undefined;
  const keys: RequiredKey[] = (options.verify ?? []).map((path) => ({
    path: resolve(state.root, path),
    display: path,
    reason: "--verify",
  }));
  const targetSource =
    options.target !== undefined
      ? "--target"
      : process.env.KAUPANG_TARGET
        ? "$KAUPANG_TARGET"
        : "the default target";
  if (state.project) {
    const { env: _env, ...selected } = selectTarget(state.project, {
      target: state.target,
      backend: options.backend,
    });
    const configFile = relative(state.root, state.project.configFile) || state.project.configFile;
    const required = requiredSignatureKey(state);
    if (required)
      keys.push({
        path: required.key,
        display: required.display,
        reason: `target ${state.target}'s requireSignature (${configFile})`,
      });
    return {
      site: {
        root: state.root,
        cacheDir: state.cacheDir,
        settings: { ...selected, ...(options.pull ? { pull: options.pull } : {}) },
        project: { name: state.project.config.project, file: configFile },
        targetSource: `${targetSource} of ${configFile}`,
        backendSource: options.backend ? "--backend" : `its backend in ${configFile}`,
      },
      keys,
      remote: state.remote,
      rollbackOnFailure,
    };
  }
  // No config: the target's name from --target/$KAUPANG_TARGET, the backend from --backend,
  // docker and kubectl reach what the environment says (DOCKER_CONTEXT, DOCKER_HOST, KUBECONFIG).
  return {
    site: {
      root: state.root,
      cacheDir: state.cacheDir,
      settings: {
        name: state.target,
        backend: options.backend ?? "compose",
        // The config rule without a config: the project's name (open.ts fills it in from the manifest).
        namespace: "",
        pull: options.pull ?? "missing",
        // Without a config the bundle says where its state lives, or the site remembers (planBundleUp).
        state: state.remote ? "target" : "local",
      },
      targetSource,
      backendSource: options.backend ? "--backend" : "no config and no --backend: compose",
    },
    keys,
    remote: state.remote,
    rollbackOnFailure,
  };
}

/** `docker load` of the bundle's archive, for one engine (the site's, or one of its hosts). */
function loadCommand(bundle: OpenBundle, target: TargetSettings): PlanCommand | undefined {
  if (!bundle.imagesArchive) return undefined;
  const ids = new Set(bundle.manifest.images.flatMap((i) => (i.imageId ? [i.imageId] : [])));
  return imageLoadCommand(target, bundle.imagesArchive, ids.size);
}

/**
 * Every command the deploy runs, in order: per host of the site's target (or
 * once, without hosts) the image load, then each unit's commands, built for
 * that host's engine exactly as the apply path builds them.
 */
function bundleCommands(
  bundle: OpenBundle,
  site: BundleSite,
  hosts: readonly string[] | undefined,
): { scope: string; command: PlanCommand }[] {
  return placementsOf(bundle.units[0]!.target, hosts).flatMap((placement) => {
    const on = placement.host ? `${hostLabel(placement.host)} ` : "";
    const load = loadCommand(bundle, placement.target);
    return [
      ...(load ? [{ scope: `${on}images`, command: load }] : []),
      ...bundle.units.flatMap((unit) => {
        const commands = placement.host
          ? upCommands(
              { project: unit.project, target: placement.target, pull: unit.pull, root: site.root },
              unit.environment,
            )
          : unit.environment.commands;
        return commands.map((command) => ({ scope: `${on}${unit.environment.environment}`, command }));
      }),
    ];
  });
}

export async function planBundleUp(options: BundleUpOptions): Promise<PlannedBundleUp> {
  const { site, keys, remote: configured, rollbackOnFailure } = await bundleSite(options);
  const bundle = await openBundle(options.bundle, {
    cwd: site.root,
    site,
    keys,
    expectDigest: options.expectDigest,
  });
  try {
    // Without a config, a bundle made for a target that keeps its state there keeps it on this site's target.
    const remote =
      configured ??
      (!site.project && bundle.manifest.state === "target"
        ? { project: bundle.manifest.project, target: bundle.units[0]!.target }
        : undefined);
    if (!site.project) await checkLedgerProject(bundle, { ...site, remote });
    const load = loadCommand(bundle, site.settings);
    const commands = bundleCommands(bundle, site, options.hosts);
    return {
      ...bundle,
      root: site.root,
      cacheDir: site.cacheDir,
      remote,
      ...(!site.project && remote ? { rememberRemote: true } : {}),
      ...(load ? { loadImages: load } : {}),
      commands,
      rollbackOnFailure,
    };
  } catch (error) {
    await bundle.close();
    throw error;
  }
}

/**
 * Without a config, the project is the bundle's; it must be the one this
 * site's ledger already deploys under each environment@target, so a bundle
 * cannot take over another project's names.
 */
async function checkLedgerProject(
  bundle: OpenBundle,
  site: BundleSite & { remote: RemoteState | undefined },
): Promise<void> {
  const hosts = bundle.units[0]?.target.hosts ?? [];
  for (const unit of bundle.units) {
    const env = unit.environment.environment;
    // Each of the target's hosts has its own ledger.
    for (const host of hosts.length > 0 ? hosts : [undefined]) {
      const ledger = ledgerAt(site, {
        environment: env,
        target: site.settings.name,
        ...(host ? { host } : {}),
      });
      const current = currentRecord((await ledger.read()).records);
      if (current && current.project !== bundle.manifest.project) {
        throw bundleError(
          "ERR_BUNDLE_PROJECT",
          `${bundle.location.replace(/\/+$/, "")}/${bundleManifestName}`,
          `project: bundle ${bundle.provenance.solution} deploys project "${bundle.manifest.project}", this site's ledger (${ledger.location}) deploys ${env}@${site.settings.name} as project "${current.project}"; refused`,
        );
      }
    }
  }
}

/** Load the archive into the target's engine (or one host's) unless every listed image ID is there; then every one must be. */
async function loadImages(
  bundle: PlannedBundleUp,
  events: NonNullable<ApplyOptions["events"]>,
  target: TargetSettings,
): Promise<void> {
  const listed = bundle.manifest.images.flatMap((image, i) => (image.imageId ? [{ image, i }] : []));
  if (listed.length === 0) return;
  const ids = [...new Set(listed.map(({ image }) => image.imageId!))];
  let present = await localImageIds(target, ids);
  const load = bundle.imagesArchive ? imageLoadCommand(target, bundle.imagesArchive, ids.length) : undefined;
  if (present.size < ids.length && load) {
    events({
      type: "stage",
      message: `loading ${ids.length} image${ids.length === 1 ? "" : "s"} from the bundle`,
    });
    await execOk(load.argv, "docker load", { events });
    present = await localImageIds(target, ids);
  }
  const missing = listed.find(({ image }) => !present.has(image.imageId!));
  if (missing) {
    throw bundleError(
      "ERR_BUNDLE_IMAGES",
      `${bundle.location.replace(/\/+$/, "")}/${bundleManifestName}: images[${missing.i}].imageId`,
      `${missing.image.imageId} (${missing.image.environment}.${missing.image.service}) is not on the engine${load ? " after loading images.tar" : " and the bundle carries no images.tar"}; refused, nothing deployed`,
    );
  }
}

export async function deployBundle(options: BundleUpOptions): Promise<UpResult> {
  const bundle = await planBundleUp(options);
  try {
    return await deployOpened(bundle, options);
  } finally {
    await bundle.close();
  }
}

async function deployOpened(bundle: PlannedBundleUp, options: BundleUpOptions): Promise<UpResult> {
  const { manifest, units } = bundle;
  const events = options.events ?? silent;
  checkSecrets(
    units.filter((u) => u.backend !== "kubernetes").map((u) => u.environment),
    options.processEnv,
  );
  // A bundle made for a target with hosts goes to each host in turn: its images, then its units.
  const placements = placementsOf(units[0]!.target, options.hosts);
  if (bundle.rememberRemote && bundle.remote) await rememberRemoteState(bundle.cacheDir, bundle.remote);
  const locks = await lockEnvironments(bundle, manifest.target, manifest.environmentOrder, {
    ...options,
    hosts: placements.map((p) => p.host),
  });
  const ledgerOf = (environment: string, host: string | undefined) =>
    ledgerAt(
      bundle,
      { environment, target: manifest.target, ...(host ? { host } : {}) },
      { kaupangVersion: options.kaupangVersion },
    );
  const secretsOf = (unit: DeploymentUnit, ctx: BackendContext) =>
    currentFingerprints(backendFor(unit.backend), ctx, unit.environment.secrets, options.processEnv);
  const contexts = new Map<string, BackendContext>();
  const doneOn = new Map<string, DeploymentSummary[]>();
  const rollback = bundle.rollbackOnFailure;
  try {
    const perHost = await eachHost(
      placements,
      async (placement) => {
        const placed = placement.host ? hostEvents(events, placement.host) : events;
        await loadImages(bundle, placed, placement.target);
        const deployments: DeploymentSummary[] = [];
        for (const recorded of units) {
          const unit = placement.host ? { ...recorded, target: placement.target } : recorded;
          const ledger = ledgerOf(unit.environment.environment, placement.host);
          const ctx: BackendContext = {
            project: unit.project,
            target: unit.target,
            pull: unit.pull,
            root: bundle.root,
            events: placed,
            timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
          };
          if (placement.host) contexts.set(placement.host, ctx);
          const secrets = await secretsOf(unit, ctx);
          deployments.push(
            await applyUnit(unit, {
              ctx,
              ledger,
              action: "up",
              source: bundle.source,
              bundle: bundle.provenance,
              ...(secrets ? { secrets } : {}),
              backendImpl: options.backendImpl,
              host: placement.host,
              ...(rollback ? { rollbackOnFailure: true, bounds: rollback.bounds } : {}),
            }),
          );
        }
        if (placement.host) doneOn.set(placement.host, deployments);
        return deployments;
      },
      {
        events,
        what: "up --bundle",
        // The host that failed rolled itself back; those done before it return to what ran there.
        onFailure: rollback
          ? (failure) =>
              restoreDoneHosts(failure, doneOn, (host) => contexts.get(host)!, {
                ledgerOf,
                secretsOf,
                backendImpl: options.backendImpl,
                bounds: rollback.bounds,
              })
          : undefined,
      },
    );
    return {
      project: manifest.project,
      target: manifest.target,
      backend: manifest.backend,
      deployments: perHost.flat(),
    };
  } finally {
    for (const lock of locks) await lock.release();
  }
}
