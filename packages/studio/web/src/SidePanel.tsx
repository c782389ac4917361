/**
 * The side panel: the selected service's fields, or with nothing selected the
 * environment's own settings. Every change is one edit of the drawing; the
 * core's problems show under the field they concern.
 */
import { type ReactNode, useEffect, useState } from "react";
import type { DraftService, Preset, Problem } from "./api.js";
import { type Doc, type EnvEntry, listOf, serviceOf } from "./model.js";

type Commit = (edit: (doc: Doc) => Doc, group?: string) => void;

function Messages({ problems }: { problems: Problem[] }) {
  if (problems.length === 0) return null;
  return (
    <ul className="field-problems" role="alert">
      {problems.map((p) => (
        <li key={`${p.path.join(".")}:${p.message}`}>{p.message}</li>
      ))}
    </ul>
  );
}

function Field(props: { label: string; problems?: Problem[]; children: ReactNode; hint?: string }) {
  return (
    <div className={`field${props.problems && props.problems.length > 0 ? " bad" : ""}`}>
      <span className="field-label">{props.label}</span>
      {props.children}
      {props.hint && <div className="muted small">{props.hint}</div>}
      <Messages problems={props.problems ?? []} />
    </div>
  );
}

/** A text box that commits as the user types; an empty box removes the field. */
function Text(props: {
  value: string | undefined;
  placeholder?: string;
  onChange(value: string | undefined): void;
  testId?: string;
  label: string;
}) {
  return (
    <input
      type="text"
      aria-label={props.label}
      value={props.value ?? ""}
      placeholder={props.placeholder}
      data-testid={props.testId}
      spellCheck={false}
      onChange={(e) => props.onChange(e.target.value === "" ? undefined : e.target.value)}
    />
  );
}

/** A name that is applied on Enter or leaving the box (renames touch edges and dependsOn). */
function NameBox(props: {
  value: string;
  onRename(to: string): string | undefined;
  testId: string;
  label: string;
}) {
  const [text, setText] = useState(props.value);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => setText(props.value), [props.value]);
  const apply = () => {
    if (text === props.value) return;
    const problem = props.onRename(text);
    setError(problem);
    if (problem) setText(props.value);
  };
  return (
    <>
      <input
        type="text"
        aria-label={props.label}
        value={text}
        data-testid={props.testId}
        spellCheck={false}
        onChange={(e) => setText(e.target.value)}
        onBlur={apply}
        onKeyDown={(e) => e.key === "Enter" && apply()}
      />
      {error && <div className="field-problems">{error}</div>}
    </>
  );
}

/** Env entries: literal values and secret references; a secret row holds only the host variable's name. */
function EnvEditor(props: {
  env: Record<string, EnvEntry> | undefined;
  onChange(env: Record<string, EnvEntry> | undefined, group: string): void;
  prefix: string;
}) {
  const entries = Object.entries(props.env ?? {});
  const set = (next: [string, EnvEntry][], group: string) =>
    props.onChange(next.length > 0 ? Object.fromEntries(next) : undefined, group);
  const freeKey = (base: string) => {
    const keys = new Set(entries.map(([k]) => k));
    if (!keys.has(base)) return base;
    for (let i = 2; ; i++) if (!keys.has(`${base}_${i}`)) return `${base}_${i}`;
  };
  return (
    <div className="env">
      {entries.map(([key, value], index) => {
        const isSecret = typeof value === "object";
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: a row is a position; keyed by its name it would remount while the name is typed
          <div className="env-row" key={index} data-testid={`${props.prefix}-env-${index}`}>
            <input
              type="text"
              aria-label="variable name"
              value={key}
              spellCheck={false}
              onChange={(e) => {
                const name = e.target.value;
                if (entries.some(([k], i) => k === name && i !== index)) return;
                set(
                  entries.map(([k, v], i) => (i === index ? [name, v] : [k, v])),
                  `${props.prefix}-env-key-${index}`,
                );
              }}
            />
            <span className={`env-kind ${isSecret ? "secret" : ""}`}>{isSecret ? "secret" : "="}</span>
            <input
              type="text"
              aria-label={isSecret ? "host variable holding the secret" : "value"}
              value={isSecret ? value.$secret : String(value)}
              placeholder={isSecret ? "HOST_VARIABLE" : "value"}
              spellCheck={false}
              onChange={(e) => {
                const text = e.target.value;
                const next: EnvEntry = isSecret ? { $secret: text } : text;
                set(
                  entries.map(([k, v], i) => (i === index ? [k, next] : [k, v])),
                  `${props.prefix}-env-value-${index}`,
                );
              }}
            />
            <button
              type="button"
              className="icon"
              aria-label={`remove ${key}`}
              onClick={() =>
                set(
                  entries.filter((_, i) => i !== index),
                  `${props.prefix}-env-remove`,
                )
              }
            >
              ×
            </button>
          </div>
        );
      })}
      <div className="row-buttons">
        <button
          type="button"
          onClick={() => set([...entries, [freeKey("NAME"), ""]], `${props.prefix}-env-add`)}
        >
          + value
        </button>
        <button
          type="button"
          onClick={() => set([...entries, [freeKey("SECRET"), { $secret: "" }]], `${props.prefix}-env-add`)}
          title="A reference to a host variable: its value is never written anywhere"
        >
          + secret
        </button>
      </div>
    </div>
  );
}

function PortsEditor(props: {
  ports: (string | number)[] | undefined;
  onChange(ports: string[] | undefined, group: string): void;
  placeholder: string;
}) {
  const ports = (props.ports ?? []).map(String);
  const set = (next: string[], group: string) => props.onChange(next.length > 0 ? next : undefined, group);
  return (
    <div className="ports">
      {ports.map((port, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a row is a position; keyed by its text it would remount while typed
        <div className="port-row" key={index}>
          <input
            type="text"
            aria-label={`port ${index + 1}`}
            value={port}
            spellCheck={false}
            onChange={(e) =>
              set(
                ports.map((p, i) => (i === index ? e.target.value : p)),
                `ports-${index}`,
              )
            }
          />
          <button
            type="button"
            className="icon"
            aria-label="remove port"
            onClick={() =>
              set(
                ports.filter((_, i) => i !== index),
                "ports-remove",
              )
            }
          >
            ×
          </button>
        </div>
      ))}
      <div className="row-buttons">
        <button
          type="button"
          onClick={() => set([...ports, ""], "ports-add")}
          title={`e.g. ${props.placeholder}`}
        >
          + port
        </button>
      </div>
    </div>
  );
}

const testText = (test: string | string[] | undefined) =>
  test === undefined ? undefined : Array.isArray(test) ? JSON.stringify(test) : test;

function parseTest(text: string | undefined): string | string[] | undefined {
  if (text === undefined) return undefined;
  if (text.trim().startsWith("[")) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === "string")) return parsed;
    } catch {
      // not (yet) a JSON array: kept as the shell command it reads as
    }
  }
  return text;
}

interface ServicePanelProps {
  doc: Doc;
  name: string;
  preset: Preset | undefined;
  problems: Problem[];
  commit: Commit;
  onRename(from: string, to: string): string | undefined;
  onRemove(name: string): void;
  update(name: string, patch: Partial<Record<keyof DraftService, unknown>>, group: string): void;
}

const shownKeys = new Set(["$catalog", "image", "build", "ports", "env", "healthcheck", "pull", "dependsOn"]);

export function ServicePanel(props: ServicePanelProps) {
  const { doc, name, preset, problems } = props;
  const service = serviceOf(doc, name);
  const at = (field: string) => problems.filter((p) => p.field === field);
  const own = problems.filter((p) => p.field === undefined);
  const build = service.build;
  const buildContext = typeof build === "string" ? build : build?.context;
  const health = service.healthcheck;
  const setHealth = (patch: Record<string, unknown>, group: string) => {
    const next: Record<string, unknown> = { ...(health ?? {}) };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete next[k];
      else next[k] = v;
    }
    props.update(name, { healthcheck: Object.keys(next).length > 0 ? next : undefined }, group);
  };
  const others = Object.keys(service).filter((k) => !shownKeys.has(k));
  const u = (field: keyof DraftService) => (value: unknown) =>
    props.update(name, { [field]: value }, `${name}-${field}`);
  return (
    <section className="panel" aria-label={`Service ${name}`} data-testid="service-panel">
      <h2>
        Service <span className="mono">{name}</span>
      </h2>
      <Messages problems={own} />
      <Field label="Name" problems={at("name")}>
        <NameBox
          value={name}
          label="service name"
          testId="service-name"
          onRename={(to) => props.onRename(name, to)}
        />
      </Field>
      {service.$catalog !== undefined && (
        <Field label="Preset" hint="Fields you set here override the preset's.">
          <div className="mono">use("{service.$catalog}")</div>
        </Field>
      )}
      <Field label="Image" problems={at("image")}>
        <Text
          label="image"
          testId="service-image"
          value={service.image}
          placeholder={preset?.image ?? "registry/name:tag"}
          onChange={u("image")}
        />
      </Field>
      <Field
        label="Build context"
        problems={at("build")}
        hint={typeof build === "object" ? "dockerfile, args and target are kept" : undefined}
      >
        <Text
          label="build context"
          testId="service-build"
          value={buildContext}
          placeholder="./path (kaupang build)"
          onChange={(context) =>
            props.update(
              name,
              {
                build:
                  typeof build === "object"
                    ? context === undefined
                      ? undefined
                      : { ...build, context }
                    : context,
              },
              `${name}-build`,
            )
          }
        />
      </Field>
      <Field label="Ports" problems={at("ports")}>
        <PortsEditor
          ports={service.ports}
          placeholder="8080:80"
          onChange={(ports, group) => props.update(name, { ports }, `${name}-${group}`)}
        />
        {service.ports === undefined && preset && preset.ports.length > 0 && (
          <div className="muted small">from the preset: {preset.ports.join(", ")}</div>
        )}
      </Field>
      <Field label="Environment variables" problems={at("env")}>
        <EnvEditor
          env={service.env}
          prefix="service"
          onChange={(env, group) => props.update(name, { env }, `${name}-${group}`)}
        />
      </Field>
      <Field label="Healthcheck" problems={at("healthcheck")}>
        <Text
          label="healthcheck test"
          value={testText(health?.test)}
          placeholder='shell command, or ["CMD", "wget", "-q", "http://127.0.0.1/"]'
          onChange={(text) => setHealth({ test: parseTest(text) }, `${name}-hc-test`)}
        />
        <div className="triple">
          <Text
            label="interval"
            value={health?.interval}
            placeholder="interval 5s"
            onChange={(v) => setHealth({ interval: v }, `${name}-hc-interval`)}
          />
          <Text
            label="timeout"
            value={health?.timeout}
            placeholder="timeout 3s"
            onChange={(v) => setHealth({ timeout: v }, `${name}-hc-timeout`)}
          />
          <Text
            label="retries"
            value={health?.retries === undefined ? undefined : String(health.retries)}
            placeholder="retries"
            onChange={(v) =>
              setHealth(
                { retries: v === undefined ? undefined : /^\d+$/.test(v) ? Number(v) : v },
                `${name}-hc-retries`,
              )
            }
          />
        </div>
      </Field>
      <Field label="Pull" problems={at("pull")}>
        <select
          aria-label="pull"
          value={service.pull ?? ""}
          onChange={(e) => props.update(name, { pull: e.target.value || undefined }, `${name}-pull`)}
        >
          <option value="">as the target says</option>
          <option value="always">always</option>
          <option value="missing">missing</option>
          <option value="never">never</option>
        </select>
      </Field>
      <Field label="Depends on" problems={at("dependsOn")} hint="Draw or delete edges on the canvas.">
        <div className="mono">{listOf(service.dependsOn).join(", ") || "—"}</div>
      </Field>
      {others.length > 0 && (
        <Field label="Other settings" hint="Kept as written; edit them in the file.">
          <pre className="others">
            {JSON.stringify(
              Object.fromEntries(others.map((k) => [k, (service as Record<string, unknown>)[k]])),
              null,
              2,
            )}
          </pre>
        </Field>
      )}
      <button type="button" className="danger" onClick={() => props.onRemove(name)}>
        Delete service
      </button>
    </section>
  );
}

interface EnvironmentPanelProps {
  doc: Doc;
  file: string;
  environments: string[];
  problems: Problem[];
  commit: Commit;
  onRename(to: string): void;
}

export function EnvironmentPanel(props: EnvironmentPanelProps) {
  const { doc, problems } = props;
  const at = (field: string) => problems.filter((p) => p.field === field);
  const own = problems.filter(
    (p) => p.field === undefined || !["name", "dependsOn", "env"].includes(p.field),
  );
  const deps = listOf(doc.environment.dependsOn);
  const others = props.environments.filter((e) => e !== doc.name);
  const toggle = (env: string, on: boolean) => {
    const next = on ? [...deps, env] : deps.filter((d) => d !== env);
    props.commit((d) => {
      const environment = { ...d.environment };
      if (next.length > 0) environment.dependsOn = next;
      else delete environment.dependsOn;
      return { ...d, environment };
    });
  };
  return (
    <section className="panel" aria-label="Environment" data-testid="environment-panel">
      <h2>Environment</h2>
      <Messages problems={own} />
      <Field label="Name" problems={at("name")} hint={`Saved as ${props.file}`}>
        <NameBox
          value={doc.name}
          label="environment name"
          testId="environment-name"
          onRename={(to) => {
            props.onRename(to);
            return undefined;
          }}
        />
      </Field>
      <Field label="Depends on environments" problems={at("dependsOn")}>
        {others.length === 0 && <div className="muted">no other environment in the project</div>}
        {others.map((env) => (
          <label key={env} className="check">
            <input
              type="checkbox"
              checked={deps.includes(env)}
              onChange={(e) => toggle(env, e.target.checked)}
              data-testid={`env-dep-${env}`}
            />
            {env}
          </label>
        ))}
        {deps
          .filter((d) => !others.includes(d))
          .map((d) => (
            <label key={d} className="check bad">
              <input type="checkbox" checked onChange={() => toggle(d, false)} />
              {d} (no such environment)
            </label>
          ))}
      </Field>
      <Field label="Environment variables (every service)" problems={at("env")}>
        <EnvEditor
          env={doc.environment.env}
          prefix="environment"
          onChange={(env, group) =>
            props.commit((d) => {
              const environment = { ...d.environment };
              if (env) environment.env = env;
              else delete environment.env;
              return { ...d, environment };
            }, `environment-${group}`)
          }
        />
      </Field>
      <p className="muted small">
        Select a node to edit its service. Delete removes the selection; Ctrl+Z undoes, Ctrl+Shift+Z redoes.
      </p>
    </section>
  );
}
