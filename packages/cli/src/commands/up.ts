import {
  deployBundle,
  deployPlanned,
  diffPlan,
  formatCommand,
  type PlannedBundleUp,
  planBundleUp,
  planUp,
  shortKeyId,
  unsetSecretsWarning,
  withRegistryLogins,
} from "@kaupang/core";
import { type Command, InvalidArgumentError } from "commander";
import type { Io } from "../output/io.js";
import { formatPlan, planJson, unitsJson } from "../output/plan-text.js";
import { createReporter } from "../output/reporter.js";
import { formatUrls } from "../output/urls.js";
import { version } from "../version.js";
import { formatDiff } from "./inspect.js";
import { addFlags, type CommonOptions } from "./options.js";

interface UpFlags extends CommonOptions {
  resolve?: boolean;
  force?: boolean;
  rollbackOnFailure?: boolean;
  from?: string;
  solution?: string;
  bundle?: string;
  verify?: string[];
  expectDigest?: string;
}

function digestFlag(value: string): string {
  if (!/^sha256:[0-9a-f]{64}$/.test(value)) throw new InvalidArgumentError("use sha256: and 64 hex digits.");
  return value;
}

export function registerUp(program: Command, io: Io): void {
  const command = program
    .command("up")
    .description("deploy an environment and everything it depends on (or a --solution, or a --bundle)")
    .argument("[env]", "environment to deploy")
    .option("--solution <name>", "deploy a solution: its environments, pins and env")
    .option("--bundle <dir|oci://ref>", "deploy a bundle offline: no source repo, config or registry needed")
    .option("--resolve", "resolve image tags to registry digests (the default)")
    .option("--no-resolve", "deploy image references as written (local builds are pinned by image ID)")
    .option(
      "--from <file>",
      "deploy the digests of an earlier `up --output json` (promotion) instead of resolving",
    )
    .option("--force", "apply even when nothing changed since the last deploy")
    .option(
      "--verify <public-key>",
      "with --bundle: refuse it unless signed with this Ed25519 public key (PEM); repeatable",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--expect-digest <sha256>", "with --bundle: refuse any other manifest digest", digestFlag)
    .option(
      "--rollback-on-failure",
      "if apply, verify or an afterUp hook fails, re-apply the last succeeded deploy (with --bundle: within the site's rollback bounds) and still exit 1",
    )
    .option("--no-rollback-on-failure", "do not, even when the target or config sets rollbackOnFailure");
  addFlags(command, [
    "backend",
    "target",
    "hosts",
    "concurrency",
    "pull",
    "dryRun",
    "output",
    "timeout",
    "quiet",
    "verbose",
    "cwd",
  ]);
  command.action(async (env: string | undefined, options: UpFlags) => {
    const given = [env, options.solution, options.bundle].filter((v) => v !== undefined);
    if (given.length !== 1) {
      command.error("error: give exactly one of <env>, --solution <name> or --bundle <dir|oci://ref>");
    }
    const events = createReporter(io, options);
    const apply = { events, timeoutMs: options.timeout, kaupangVersion: version };
    if (options.bundle) {
      const bundleOptions = {
        bundle: options.bundle,
        cwd: options.cwd,
        target: options.target,
        backend: options.backend,
        pull: options.pull,
        verify: options.verify,
        expectDigest: options.expectDigest,
        hosts: options.hosts,
        rollbackOnFailure: options.rollbackOnFailure,
      };
      if (options.dryRun) {
        const bundle = await planBundleUp(bundleOptions);
        await bundle.close();
        if (options.output === "json") {
          io.stdout.write(
            `${JSON.stringify(
              {
                dryRun: true,
                manifest: bundle.manifest,
                manifestDigest: bundle.manifestDigest,
                ...(bundle.signature ? { signature: bundle.signature } : {}),
                units: unitsJson(bundle.units),
                ...(bundle.loadImages ? { loadImages: bundle.loadImages } : {}),
                commands: bundle.commands.map(({ scope, command }) => ({ scope, ...command })),
              },
              null,
              2,
            )}\n`,
          );
          return;
        }
        io.stdout.write(formatBundlePlan(bundle));
        return;
      }
      const result = await deployBundle({ ...apply, ...bundleOptions, command: "kaupang up --bundle" });
      if (options.output === "json") io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else io.stdout.write(formatUrls(result.deployments));
      return;
    }
    const request = {
      cwd: options.cwd,
      ...(env !== undefined ? { environments: [env] } : { solution: options.solution }),
      target: options.target,
      backend: options.backend,
      pull: options.pull,
      events,
    };
    const planned = await planUp(request);
    if (options.dryRun) {
      // No image is resolved, but the pull Secret your docker login makes is shown (never its content).
      const shown = await withRegistryLogins(planned);
      const unset = unsetSecretsWarning(planned.plan);
      if (unset) events({ type: "warning", message: unset });
      // What would change against the last deploy: configured references only (hermetic).
      const changes = await diffPlan(planned, planned.plan, true);
      if (options.output === "json") {
        io.stdout.write(`${JSON.stringify({ dryRun: true, ...planJson(shown.plan), changes }, null, 2)}\n`);
      } else {
        const summary = formatDiff(changes).replace(/^/gm, "  ").trimEnd();
        io.stdout.write(`Changes against the last deploy:\n${summary}\n\n${formatPlan(shown.plan)}`);
      }
      return;
    }
    const result = await deployPlanned(planned, {
      ...request,
      ...apply,
      resolve: options.resolve !== false,
      from: options.from,
      force: options.force,
      rollbackOnFailure: options.rollbackOnFailure,
      hosts: options.hosts,
      concurrency: options.concurrency,
      command: `kaupang up ${env ?? `--solution ${options.solution}`}`,
    });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else io.stdout.write(formatUrls(result.deployments));
  });
}

/** What `up --bundle --dry-run` shows: what was verified, where it goes, and every command the deploy runs. */
function formatBundlePlan(bundle: PlannedBundleUp): string {
  const m = bundle.manifest;
  const unit = bundle.units[0]!;
  const t = unit.target;
  const reach = [
    t.dockerContext ? `docker context ${t.dockerContext}` : undefined,
    t.kubeContext ? `kube context ${t.kubeContext}` : undefined,
    t.kubeconfig ? `kubeconfig ${t.kubeconfig}` : undefined,
    t.backend === "kubernetes" ? `namespace ${t.namespace}` : undefined,
  ].filter(Boolean);
  const signed = bundle.signature
    ? bundle.signature.verified
      ? `signature verified: key ${shortKeyId(bundle.signature.keyId)}`
      : `signed by key ${shortKeyId(bundle.signature.keyId)} (not checked: no --verify or requireSignature)`
    : "unsigned";
  const lines = [
    `Bundle ${m.solution.name}@${m.solution.version} (project ${m.project}), verified: every file matches its manifest digest; ${signed}`,
    `  manifest: ${bundle.manifestDigest}`,
    `  deploys to this site's target ${t.name} (${t.backend})${reach.length > 0 ? `: ${reach.join(", ")}` : ""}`,
    "",
    "Commands, in order (no other command that changes the site runs; kaupang also reads state, e.g. kubectl get):",
  ];
  let scope = "";
  for (const { scope: s, command: c } of bundle.commands) {
    if (s !== scope) lines.push(`  ${s}`);
    scope = s;
    lines.push(`    $ ${formatCommand(c.argv, c.env)}    # ${c.description}`);
  }
  return `${lines.join("\n")}\n\nDry run: nothing was deployed.\n`;
}
