import { describe, expect, it } from "vitest";
import { type ComposeProject, convertCompose, goDurationMs } from "./compose.js";
import { parseInterpolation } from "./interpolation.js";
import { fileSource, sourceOf } from "./source.js";

/** A project as `docker compose config --format json` prints it (interpolated and raw). */
function convert(
  services: Record<string, Record<string, unknown>>,
  options: {
    raw?: Record<string, Record<string, unknown>>;
    format?: "ts" | "mjs" | "json";
    secrets?: "all" | string[];
    extra?: Partial<ComposeProject>;
  } = {},
) {
  return convertCompose({
    resolved: { name: "shop", services, ...options.extra },
    raw: { name: "shop", services: options.raw ?? services },
    outDir: "/src/shop",
    format: options.format ?? "ts",
    secrets: options.secrets,
  });
}

const lines = (c: ReturnType<typeof convert>) => c.report.map((r) => `${r.kind}: ${r.path}: ${r.message}`);
const text = (c: ReturnType<typeof convert>, i = 0, format: "ts" | "mjs" | "json" = "ts") =>
  fileSource(c.environments[i]!.value, format, "defineEnvironment");

describe("compose interpolation syntax", () => {
  it("parses variables, defaults, required markers and $$ escapes", () => {
    expect(parseInterpolation("a$$b ${X} $Y ${Z:-d} ${W-e} ${R:?must}")).toEqual({
      parts: [
        "a$b ",
        { variable: "X" },
        " ",
        { variable: "Y" },
        " ",
        { variable: "Z", fallback: { value: "d", whenEmpty: true } },
        " ",
        { variable: "W", fallback: { value: "e", whenEmpty: false } },
        " ",
        { variable: "R" },
      ],
      required: ["R"],
    });
    expect(parseInterpolation("${A:+alt}")).toEqual({ unsupported: "${A:+alt}" });
    expect(parseInterpolation("${A:-${B}}")).toEqual({ unsupported: "${A:-${B}" });
  });

  it("reads Go durations as compose prints them", () => {
    expect(goDurationMs("1m30s")).toBe(90_000);
    expect(goDurationMs("500ms")).toBe(500);
    expect(goDurationMs("1h")).toBe(3_600_000);
    expect(goDurationMs("soon")).toBeUndefined();
  });
});

describe("convertCompose", () => {
  it("declares in each environment the named volumes its services mount, under compose's names", () => {
    const mount = (source: string, target: string) => ({ type: "volume", source, target, volume: {} });
    const c = convert(
      {
        db: { image: "postgres", volumes: [mount("pgdata", "/var/lib/postgresql/data")] },
        backup: {
          image: "restic",
          profiles: ["ops"],
          volumes: [mount("pgdata", "/in"), mount("repo", "/repo")],
        },
      },
      {
        extra: {
          volumes: {
            pgdata: { name: "shop_pgdata" },
            repo: { name: "backups", external: true, driver: "rclone", driver_opts: { remote: "s3:x" } },
          },
        },
      },
    );
    expect(c.environments.map((e) => [e.name, e.value.volumes])).toEqual([
      ["app", { pgdata: { name: "shop_pgdata" } }],
      ["ops", { pgdata: { name: "shop_pgdata" }, repo: { name: "backups", external: true } }],
    ]);
    expect(lines(c)).toContain(
      'not-converted: volumes.repo: {"driver":"rclone","driver_opts":{"remote":"s3:x"}}: a docker volume driver does not carry to Kubernetes (add driver/driverOpts to the environment\'s volume for compose and swarm only)',
    );
  });

  it("writes env ${VAR} as secret() only for the variables the user opted in to", () => {
    const raw = {
      app: {
        image: "app:1",
        environment: {
          PASSWORD: "${DB_PASSWORD}",
          KEY: "${STRIPE_KEY:?}",
          LEVEL: "${LOG_LEVEL:-info}",
          URL: "pg://u:${DB_PASSWORD}@db/x",
          PRICE: "$$%.2f",
        },
      },
    };
    const resolved = {
      app: {
        image: "app:1",
        environment: { PASSWORD: "pw", KEY: "sk", LEVEL: "info", URL: "pg://u:pw@db/x", PRICE: "$$%.2f" },
      },
    };
    const c = convert(resolved, { raw, secrets: ["DB_PASSWORD"] });
    expect(text(c)).toBe(
      [
        'import { defineEnvironment, secret } from "@kaupang/core";',
        "",
        "export default defineEnvironment({",
        "  services: {",
        "    app: {",
        '      image: "app:1",',
        "      env: {",
        '        PASSWORD: secret("DB_PASSWORD"),',
        '        KEY: process.env.STRIPE_KEY ?? "",',
        '        LEVEL: process.env.LOG_LEVEL || "info",',
        '        URL: `pg://u:${process.env.DB_PASSWORD ?? ""}@db/x`,',
        '        PRICE: "$%.2f",',
        "      },",
        "    },",
        "  },",
        "});",
        "",
      ].join("\n"),
    );
    expect(lines(c)).toEqual([
      "changed: services.app.environment.URL: pg://u:${DB_PASSWORD}@db/x embeds DB_PASSWORD in a longer value; secret() holds a whole value, so it is read from the environment when the config loads (and recorded)",
    ]);
    const all = convert(resolved, { raw, secrets: "all" });
    // A variable passed from the host (`- SENTRY_DSN`) is never written with the value init saw.
    const passed = convert(
      { app: { image: "app:1", environment: { SENTRY_DSN: "https://key@sentry" } } },
      { raw: { app: { image: "app:1", environment: { SENTRY_DSN: null } } } },
    );
    expect(passed.environments[0]!.value.services).toEqual({
      app: { image: "app:1", env: { SENTRY_DSN: expect.objectContaining({ variable: "SENTRY_DSN" }) } },
    });
    expect(text(passed)).toContain('SENTRY_DSN: secret("SENTRY_DSN")');
    expect(text(passed)).not.toContain("https://key@sentry");
    expect(text(all)).toContain('KEY: secret("STRIPE_KEY")');
  });

  it("JSON cannot read the environment: values are written as they are now, and reported", () => {
    const c = convert(
      { app: { image: "app:3", environment: { LEVEL: "debug", KEY: "sk" } } },
      {
        raw: { app: { image: "app:${TAG}", environment: { LEVEL: "${LOG_LEVEL:-info}", KEY: "${KEY}" } } },
        format: "json",
        secrets: ["KEY"],
      },
    );
    expect(text(c, 0, "json")).toBe(
      '{\n  "services": {\n    "app": {\n      "image": "app:3",\n      "env": { "LEVEL": "debug", "KEY": { "$secret": "KEY" } }\n    }\n  }\n}\n',
    );
    expect(lines(c)).toEqual([
      'changed: services.app.image: "app:${TAG}" is written with its current value "app:3" (JSON has no expressions; use --format ts to keep reading the variable)',
      'changed: services.app.environment.LEVEL: "${LOG_LEVEL:-info}" is written with its current value "debug" (JSON has no expressions: use --secrets for secret("VAR"), or --format ts)',
    ]);
  });

  it("turns a dependency others wait to complete into a one-shot task, and derives the other conditions", () => {
    const c = convert({
      migrate: { image: "app", restart: "on-failure", command: ["migrate"] },
      db: {
        image: "postgres:16",
        healthcheck: { test: ["CMD-SHELL", "pg_isready"], interval: "1m30s", timeout: "5s", retries: 3 },
      },
      web: {
        image: "app",
        depends_on: {
          migrate: { condition: "service_completed_successfully", required: true },
          db: { condition: "service_started", required: false },
        },
      },
    });
    const services = c.environments[0]!.value.services as Record<string, unknown>;
    expect(services.migrate).toEqual({ image: "app", command: ["migrate"], runOnce: true });
    expect(services.db).toEqual({
      image: "postgres:16",
      healthcheck: { test: ["CMD-SHELL", "pg_isready"], interval: "90s", timeout: "5s", retries: 3 },
    });
    expect(services.web).toEqual({ image: "app", dependsOn: ["migrate", "db"] });
    expect(lines(c)).toEqual([
      "changed: services.web.depends_on.db: condition service_started: kaupang waits for db's healthcheck (service_healthy)",
      "changed: services.web.depends_on.db.required: false: kaupang always requires its dependencies",
    ]);
  });

  it("puts each profile in an environment of its own that depends on the main one", () => {
    const c = convert({
      api: { image: "api" },
      adminer: {
        image: "adminer",
        profiles: ["debug", "tools"],
        depends_on: { api: { condition: "service_started" } },
      },
      seed: { image: "seed", profiles: ["seed"] },
    });
    expect(c.environments.map((e) => [e.name, e.services, e.dependsOn, e.profile])).toEqual([
      ["app", ["api"], [], undefined],
      ["debug", ["adminer"], ["app"], "debug"],
      ["seed", ["seed"], ["app"], "seed"],
    ]);
    expect(c.environments[1]!.value.dependsOn).toBe("app");
    expect(lines(c)).toEqual([
      'changed: services.adminer.profiles: debug, tools: a service belongs to one environment, so it is in "debug" only',
    ]);
  });

  it("renames services kaupang cannot name and keeps the compose name as a network alias", () => {
    const c = convert({ celery_worker: { build: { context: "/src/shop", dockerfile: "Dockerfile" } } });
    expect(c.environments[0]!.value.services).toEqual({
      "celery-worker": {
        image: "shop-celery_worker",
        build: ".",
        compose: { networks: { default: { aliases: ["celery_worker"] } } },
      },
    });
    expect(lines(c)).toEqual([
      'changed: services.celery_worker: renamed to "celery-worker" (kaupang names are lowercase letters, digits and "-"); compose and swarm keep "celery_worker" as a network alias',
    ]);
  });

  it("maps ports, volumes, limits and labels, keeping compose-only fields in the escape hatch", () => {
    const c = convert(
      {
        web: {
          image: "web",
          ports: [
            { mode: "ingress", target: 80, published: "8080", protocol: "tcp" },
            { mode: "ingress", host_ip: "127.0.0.1", target: 53, published: "5353", protocol: "udp" },
            { mode: "ingress", target: 3000, protocol: "tcp" },
          ],
          volumes: [
            { type: "volume", source: "data", target: "/data", volume: {} },
            {
              type: "bind",
              source: "/src/shop/conf",
              target: "/etc/web",
              read_only: true,
              bind: { create_host_path: true },
            },
            { type: "tmpfs", target: "/tmp" },
          ],
          deploy: { replicas: 2, resources: { limits: { cpus: 0.5, memory: "536870912" } }, placement: {} },
          labels: { team: "shop", "traefik.http.routers.web.rule": "Host(`x`)" },
          user: "1000",
          cap_add: ["NET_ADMIN"],
          cap_drop: ["ALL"],
          container_name: "web",
          networks: { default: null, front: null },
        },
      },
      {
        extra: {
          networks: { default: { name: "shop_default" }, front: { name: "shop_front" } },
          volumes: { data: { name: "shop_data", labels: { keep: "yes" } } },
        },
      },
    );
    // The volume keeps the docker name compose gave it: the data carries over.
    expect(c.environments[0]!.value.volumes).toEqual({
      data: { name: "shop_data", labels: { keep: "yes" } },
    });
    expect(c.environments[0]!.value.services).toEqual({
      web: {
        image: "web",
        ports: ["8080:80", "127.0.0.1:5353:53/udp", "3000"],
        volumes: ["data:/data", "./conf:/etc/web:ro"],
        replicas: 2,
        resources: { cpus: "0.5", memory: "512m" },
        capAdd: ["NET_ADMIN"],
        capDrop: ["ALL"],
        labels: { team: "shop" },
        compose: {
          tmpfs: ["/tmp"],
          labels: { "traefik.http.routers.web.rule": "Host(`x`)" },
          user: "1000",
        },
      },
    });
    expect(lines(c)).toEqual([
      "compose-only: services.web.volumes: tmpfs /tmp: kept as compose tmpfs for compose and swarm",
      "compose-only: services.web.labels: traefik.http.routers.web.rule: not valid Kubernetes labels, so kept for compose and swarm only",
      "not-converted: services.web.networks: front: every service of a kaupang project joins one network and reaches the others by service name",
      "compose-only: services.web.user: kept in compose: {…} for compose and swarm; not applied on Kubernetes",
      'not-converted: services.web.container_name: "web": kaupang names containers itself (<project>-<environment>-<service>-N)',
      "not-converted: networks.front: every service of a kaupang project joins the project's network, on every backend (environment networks exist for compose and swarm, not Kubernetes)",
    ]);
  });
});

describe("config source text", () => {
  it("quotes keys that are not identifiers and wraps long objects", () => {
    expect(sourceOf({ x: { "a-b": 1, c: [1, 2] } }, "ts")).toBe('{\n  x: { "a-b": 1, c: [1, 2] },\n}');
    expect(sourceOf({ x: { "a-b": 1 } }, "json")).toBe('{\n  "x": { "a-b": 1 }\n}');
    const long = { x: { a: "a".repeat(40), b: "b".repeat(40) } };
    expect(sourceOf(long, "ts")).toBe(
      `{\n  x: {\n    a: "${"a".repeat(40)}",\n    b: "${"b".repeat(40)}",\n  },\n}`,
    );
  });
});
