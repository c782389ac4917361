/**
 * `kaupang up --bundle <dir|oci://ref>`: verify the bundle, load its images,
 * and replay its pinned units through the one apply path — no source repo,
 * no kaupang config, no registry. Recorded in the ledger like any deploy, so
 * rollback works inside the gap among the versions carried in.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { backendFor, defaultTimeoutMs } from "../backends/context.js";
import { KaupangError } from "../base/errors.js";
import { silent } from "../base/events.js";
import type { TargetSettings } from "../base/target.js";
import { applyUnit, type DeploymentSummary } from "../deploy/apply-unit.js";
import { eachHost, hostEvents, placementsOf } from "../deploy/hosts.js";
import { lockEnvironments } from "../deploy/locks.js";
import { currentFingerprints } from "../deploy/secret-fingerprints.js";
import { checkSecrets } from "../deploy/secrets.js";
import { locateState } from "../deploy/state-location.js";
import type { ApplyOptions, UpResult } from "../deploy/up.js";
import { exec, execOk } from "../exec/exec.js";
import { ledgerAt } from "../ledger/ledger.js";
import { dockerGlobalArgs, imageLoadCommand } from "../plan/commands.js";
import type { PlanCommand } from "../plan/types.js";
import { type OpenBundle, openBundle } from "./open.js";

export interface BundleUpOptions extends ApplyOptions {
  bundle: string;
  cwd?: string | undefined;
  target?: string | undefined;
  /** Only these of the target's hosts (`--hosts`), for a bundle made for a target with hosts. */
  hosts?: readonly string[] | undefined;
}

export interface PlannedBundleUp extends OpenBundle {
  root: string;
  cacheDir: string;
  /** The image load that runs first, when the bundle carries images. */
  loadImages?: PlanCommand;
}

export async function planBundleUp(options: BundleUpOptions): Promise<PlannedBundleUp> {
  const state = await locateState({ cwd: options.cwd, target: options.target });
  const bundle = await openBundle(options.bundle, { cwd: state.root, cacheDir: state.cacheDir });
  if (options.target !== undefined && options.target !== bundle.manifest.target) {
    throw new KaupangError(
      "ERR_BUNDLE_TARGET",
      `bundle ${bundle.manifest.solution.name}@${bundle.manifest.solution.version} was made for target "${bundle.manifest.target}", not "${options.target}"`,
      {
        hint: `make one for ${options.target}: kaupang bundle ${bundle.manifest.solution.name} --target ${options.target}`,
      },
    );
  }
  const tarball = join(bundle.directory, "images.tar");
  const load =
    bundle.manifest.files["images.tar"] && existsSync(tarball)
      ? imageLoadCommand(bundle.units[0]!.target, tarball, imageIds(bundle).length)
      : undefined;
  return { ...bundle, root: state.root, cacheDir: state.cacheDir, ...(load ? { loadImages: load } : {}) };
}

const imageIds = (bundle: OpenBundle) => [
  ...new Set(bundle.manifest.images.flatMap((i) => (i.imageId ? [i.imageId] : []))),
];

/** Load the bundle's images into the target's engine (or one host's) unless it has every image the bundle pins. */
async function loadImages(
  bundle: PlannedBundleUp,
  events: NonNullable<ApplyOptions["events"]>,
  target: TargetSettings,
): Promise<void> {
  if (!bundle.loadImages) return;
  const ids = imageIds(bundle);
  const present = await exec(
    ["docker", ...dockerGlobalArgs(target), "image", "inspect", "--format", "{{.Id}}", ...ids],
    { quiet: true },
  );
  if (ids.length > 0 && present.exitCode === 0) return;
  events({
    type: "stage",
    message: `loading ${ids.length} image${ids.length === 1 ? "" : "s"} from the bundle`,
  });
  const load = imageLoadCommand(target, join(bundle.directory, "images.tar"), ids.length);
  await execOk(load.argv, "docker load", { events });
}

export async function deployBundle(options: BundleUpOptions): Promise<UpResult> {
  const bundle = await planBundleUp(options);
  const { manifest, units } = bundle;
  const events = options.events ?? silent;
  checkSecrets(
    units.filter((u) => u.backend !== "kubernetes").map((u) => u.environment),
    options.processEnv,
  );
  // A bundle made for a target with hosts goes to each host in turn: its images, then its units.
  const placements = placementsOf(units[0]!.target, options.hosts);
  const locks = await lockEnvironments(bundle, manifest.target, manifest.environmentOrder, options);
  try {
    const perHost = await eachHost(
      placements,
      async (placement) => {
        const placed = placement.host ? hostEvents(events, placement.host) : events;
        await loadImages(bundle, placed, placement.target);
        const deployments: DeploymentSummary[] = [];
        for (const recorded of units) {
          const unit = placement.host ? { ...recorded, target: placement.target } : recorded;
          const ledger = ledgerAt(
            bundle,
            {
              environment: unit.environment.environment,
              target: manifest.target,
              ...(placement.host ? { host: placement.host } : {}),
            },
            { kaupangVersion: options.kaupangVersion },
          );
          const ctx = {
            project: unit.project,
            target: unit.target,
            pull: unit.pull,
            root: bundle.root,
            events: placed,
            timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
          };
          const secrets = await currentFingerprints(
            backendFor(unit.backend),
            ctx,
            unit.environment.secrets,
            options.processEnv,
          );
          deployments.push(
            await applyUnit(unit, {
              ctx,
              ledger,
              action: "up",
              source: bundle.source,
              ...(secrets ? { secrets } : {}),
              backendImpl: options.backendImpl,
            }),
          );
        }
        return deployments;
      },
      { events, what: "up --bundle" },
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
