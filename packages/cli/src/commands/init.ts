import { init, initFormats } from "@kaupang/core";
import { type Command, Option } from "commander";
import type { Io } from "../output/io.js";

interface InitFlags {
  cwd?: string;
  format: "ts" | "mjs" | "json";
  project?: string;
  environment?: string;
  from?: string[];
  secrets?: string | boolean;
  dryRun?: boolean;
  output: "text" | "json";
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function registerInit(program: Command, io: Io): void {
  const command = program
    .command("init")
    .description(
      "start a project: kaupang.config.* and one environment, or convert docker compose files (--from); never overwrites",
    )
    .addOption(
      new Option("--format <format>", "file format of the config and environments")
        .choices(initFormats)
        .default("ts"),
    )
    .option(
      "-f, --from <compose-file>",
      "convert this compose file; repeat to merge several, as docker compose -f does",
      collect,
    )
    .option(
      "--secrets [VARS]",
      'with --from: env values written as ${VAR} become secret("VAR") (all of them, or only the comma-separated VARS)',
    )
    .option("--project <name>", "project name (default: the compose project name, or the directory name)")
    .option(
      "--environment <name>",
      "name of the environment (for --from: of the services without a profile)",
      "app",
    )
    .option("--dry-run", "print the files instead of writing them")
    .addOption(
      new Option("--output <format>", "text, or json on stdout").choices(["text", "json"]).default("text"),
    )
    .option("--cwd <dir>", "directory to create the project in (default: current directory)");
  command.action(async (options: InitFlags) => {
    const secrets =
      options.secrets === undefined || options.secrets === false
        ? undefined
        : options.secrets === true
          ? ("all" as const)
          : options.secrets
              .split(",")
              .map((s) => s.trim())
              .filter((s) => s !== "");
    if (secrets !== undefined && !options.from) command.error("error: --secrets needs --from <compose-file>");
    const result = await init({
      cwd: options.cwd,
      format: options.format,
      project: options.project,
      environment: options.environment,
      from: options.from,
      secrets,
      dryRun: options.dryRun,
    });
    if (options.output === "json") {
      io.stdout.write(
        `${JSON.stringify(
          {
            dir: result.dir,
            written: result.written,
            files: result.files,
            environments: result.environments,
            ...(result.conversion
              ? { sources: result.conversion.sources, report: result.conversion.report }
              : {}),
          },
          null,
          2,
        )}\n`,
      );
      return;
    }
    const lines: string[] = [];
    if (options.dryRun) {
      for (const file of result.files) lines.push(`--- ${file.path}`, file.content);
    }
    const conversion = result.conversion;
    if (conversion) {
      const count = conversion.environments.reduce((n, e) => n + e.services.length, 0);
      lines.push(
        `Converted ${conversion.sources.join(" + ")} (project ${conversion.project}): ${count} service${count === 1 ? "" : "s"} into ${conversion.environments.length} environment${conversion.environments.length === 1 ? "" : "s"}`,
      );
    }
    const verb = options.dryRun ? "would write" : "wrote";
    for (const file of result.files) {
      const env = conversion?.environments.find((e) => file.path.startsWith(`environments/${e.name}.`));
      const what = env
        ? ` (${env.services.join(", ")}${env.profile !== undefined ? `; profile "${env.profile}"` : ""}${env.dependsOn.length > 0 ? `; depends on ${env.dependsOn.join(", ")}` : ""})`
        : "";
      lines.push(`  ${verb} ${file.path}${what}`);
    }
    if (conversion) {
      const report = conversion.reportText;
      lines.push(...(report.length > 0 ? report : ["Everything converted."]));
    }
    const first = result.environments[0]!;
    const cwd = options.cwd ? ` --cwd ${options.cwd}` : "";
    lines.push("", "Next:", `  kaupang up ${first} --dry-run${cwd}   # the plan, touching nothing`);
    lines.push(`  kaupang up ${first}${cwd}             # deploy it with docker compose`);
    io.stdout.write(`${lines.join("\n")}\n`);
  });
}
