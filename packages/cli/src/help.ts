/**
 * What `--help` says beyond the flags: what `--target` means for each
 * command (deploy to, read from, …) and at least one example per command.
 * One table, so a new command without an example fails its test.
 */
import type { Command } from "commander";

const targetDefault = "(default: $KAUPANG_TARGET, else local)";

/** `--target` for each command, by what the command does with it. */
const targetHelp: Record<string, string> = {
  up: "target to deploy to",
  down: "target to tear the environment down on",
  build: "target whose docker context builds the images",
  bundle: "target the bundle is for",
  rollback: "target to roll back on",
  run: "target the pipeline's steps deploy to",
  status: "target whose deploys to check",
  diff: "target to compare with",
  history: "target whose ledger to show",
  ps: "target the environment runs on",
  logs: "target the environment runs on",
  "ledger verify": "target whose ledgers to verify",
  "ledger export": "target whose history to export",
  unlock: "target whose deploy lock to clear",
};

const timeoutHelp: Record<string, string> = {
  down: "how long each environment may take to be removed (default 5m)",
};

/** Examples shown after each command's help. */
const examples: Record<string, string[]> = {
  init: [
    "kaupang init                                   # kaupang.config.ts + environments/app.ts",
    "kaupang init --format json                     # the same as JSON",
    "kaupang init --from docker-compose.yml         # convert a compose project",
    "kaupang init -f compose.yaml -f compose.prod.yaml --secrets",
  ],
  up: [
    "kaupang up api --dry-run                       # the plan and the exact commands, touching nothing",
    "kaupang up api                                 # deploy api and what it depends on (docker compose)",
    "kaupang up api --target staging --output json  # deploy, print the pinned digests as JSON",
    "kaupang up --solution hedeby --target site-x",
    "kaupang up --bundle ./hedeby.bundle --target site-x",
    "kaupang up --bundle ./hedeby.bundle --verify keys/site.pub --dry-run  # check the signature, show every command",
    "kaupang up api --rollback-on-failure           # on a failed deploy, re-apply the last good one",
  ],
  down: ["kaupang down api", "kaupang down api --with-deps --target staging"],
  build: ["kaupang build app", "kaupang build app --push"],
  bundle: [
    "kaupang bundle hedeby --target site-x --with-images -o ./hedeby.bundle",
    "kaupang bundle hedeby --target site-x --push oci://registry.example/bundles/hedeby:2.3.1",
    "kaupang bundle hedeby --target site-x --with-images --sign keys/site.key -o ./hedeby.bundle",
  ],
  keygen: ["kaupang keygen keys/site                       # keys/site.key (private) and keys/site.pub"],
  rollback: [
    "kaupang rollback api --list                    # the history, with digests",
    "kaupang rollback api                           # re-apply the previous good deploy",
    "kaupang rollback api --to 20260611T140000Z-bbbb --dry-run",
  ],
  ledger: ["kaupang ledger verify", "kaupang ledger export api --target prod -o api.ledger.json"],
  "ledger verify": ["kaupang ledger verify", "kaupang ledger verify api --target prod"],
  "ledger export": [
    "kaupang ledger export api --target prod -o api.ledger.json",
    "kaupang ledger export api --target prod --state local -o api.ledger.json   # from cacheDir, not the target",
  ],
  "ledger import": [
    "kaupang ledger import api.ledger.json                      # into the target's state, where its config says",
    "kaupang ledger import api.ledger.json --state target       # onto the target, moving a local history there",
  ],
  unlock: [
    "kaupang unlock api                             # who held the lock; clears it if that run is gone",
    "kaupang unlock api --target prod --force       # even if its holder still runs on this host",
  ],
  status: [
    "kaupang status                                 # every environment: exit 3 if one drifted",
    "kaupang status api --output json",
  ],
  diff: ["kaupang diff api", "kaupang diff api --target prod --no-resolve"],
  history: ["kaupang history", "kaupang history api --output json"],
  ps: ["kaupang ps api", "kaupang ps api web --output json"],
  logs: ["kaupang logs api", "kaupang logs api web -f --tail 100", "kaupang logs api --since 10m -t"],
  run: [
    "kaupang run release --dry-run                  # the step DAG",
    "kaupang run release --target staging",
  ],
  studio: [
    "kaupang studio                                 # in a project: its catalog, on http://127.0.0.1:8080/",
    "kaupang studio --catalog ./catalog.json        # anywhere: draw from a catalog file",
  ],
};

const pathOf = (command: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
};

/** Apply the tables to every command of the program. */
export function applyHelp(program: Command): void {
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const command of all(program).slice(1)) {
    const path = pathOf(command);
    for (const option of command.options) {
      if (option.long === "--target" && targetHelp[path]) {
        option.description = `${targetHelp[path]} ${targetDefault}`;
      }
      if (option.long === "--timeout" && timeoutHelp[path]) option.description = timeoutHelp[path];
    }
    const lines = examples[path];
    if (lines) command.addHelpText("after", `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}\n`);
  }
  program.addHelpText(
    "after",
    [
      "",
      "Start here:",
      "  kaupang init                 # a config and one environment (or: kaupang init --from docker-compose.yml)",
      "  kaupang up app --dry-run     # the plan, touching nothing",
      "  kaupang up app               # deploy it",
      "",
      "Run kaupang <command> --help for a command's flags and examples.",
      "",
    ].join("\n"),
  );
}
