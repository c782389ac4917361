/**
 * The studio page: palette, canvas, side panel and the live preview. The
 * drawing is planned by the server (the same core as `kaupang up --dry-run`)
 * a moment after every edit; its problems, cycle, artifact and dry-run text
 * come back from there.
 */
import { ReactFlowProvider } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  ApiError,
  api,
  type CatalogResponse,
  type ExportFormat,
  type PlanResponse,
  type Preset,
  type SessionResponse,
} from "./api.js";
import { Canvas } from "./Canvas.js";
import { useHistory } from "./history.js";
import {
  addService,
  autoLayout,
  connect,
  type Doc,
  disconnect,
  emptyDoc,
  freeName,
  nextPosition,
  removeServices,
  renameService,
  updateService,
} from "./model.js";
import { Palette } from "./Palette.js";
import { EnvironmentPanel, ServicePanel } from "./SidePanel.js";

type Notice = { kind: "info" | "error"; text: string } | undefined;

function download(file: string, content: string) {
  const url = URL.createObjectURL(new Blob([content], { type: "text/plain;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = file.split("/").pop()!;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function defaultName(session: SessionResponse | undefined): string {
  const taken = new Set(session?.project?.environments.map((e) => e.name) ?? []);
  if (!taken.has("app")) return "app";
  for (let i = 2; ; i++) if (!taken.has(`app-${i}`)) return `app-${i}`;
}

export function App() {
  const history = useHistory(emptyDoc("app"));
  const { doc, commit } = history;
  const [session, setSession] = useState<SessionResponse>();
  const [fatal, setFatal] = useState<string>();
  const [catalog, setCatalog] = useState<CatalogResponse>();
  const [target, setTarget] = useState("local");
  const [plan, setPlan] = useState<PlanResponse>();
  const [planning, setPlanning] = useState(false);
  const [selected, setSelected] = useState<string[]>([]);
  const [format, setFormat] = useState<ExportFormat>("ts");
  const [tab, setTab] = useState<"artifact" | "dry-run" | "file">("dry-run");
  // The last exported file, shown while the drawing and format are the ones it was made from.
  const [exported, setExported] = useState<{ doc: Doc; format: ExportFormat; content: string }>();
  const [notice, setNotice] = useState<Notice>();
  const [confirm, setConfirm] = useState<{ message: string; onYes(): void }>();
  const [fitKey, setFitKey] = useState(0);

  const fail = useCallback((error: unknown) => {
    if (error instanceof ApiError && error.status === 403) setFatal(error.message);
    else setNotice({ kind: "error", text: error instanceof Error ? error.message : String(error) });
  }, []);

  const loadSession = useCallback(
    () =>
      api.session().then((s) => {
        setSession(s);
        return s;
      }),
    [],
  );

  useEffect(() => {
    loadSession()
      .then((s) => {
        if (s.project) setTarget(s.project.defaultTarget);
        const name = defaultName(s);
        if (name !== "app") history.reset(emptyDoc(name));
      })
      .catch(fail);
    api.catalog().then(setCatalog).catch(fail);
  }, [loadSession, fail, history.reset]);

  const presets = useMemo(
    () => new Map<string, Preset>(catalog?.ok ? catalog.presets.map((p) => [p.name, p]) : []),
    [catalog],
  );

  // Plan a moment after the last edit; only the newest answer counts.
  const sequence = useRef(0);
  useEffect(() => {
    if (!session) return;
    const mine = ++sequence.current;
    setPlanning(true);
    const timer = setTimeout(() => {
      api
        .plan({ name: doc.name, environment: doc.environment, target })
        .then((answer) => {
          if (mine === sequence.current) setPlan(answer);
        })
        .catch(fail)
        .finally(() => mine === sequence.current && setPlanning(false));
    }, 200);
    return () => clearTimeout(timer);
  }, [doc.name, doc.environment, target, session, fail]);

  const problems = plan?.problems ?? [];
  const cycle = plan?.cycle?.kind === "services" ? plan.cycle.nodes : [];
  const blocked = planning || !plan || !plan.ok;
  const current = selected.length > 0 ? selected[selected.length - 1]! : undefined;
  const shown = current !== undefined && current in doc.environment.services ? current : undefined;

  // Keyboard: undo and redo (text boxes keep their own).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (
        target &&
        (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")
      )
        return;
      if (!(e.ctrlKey || e.metaKey)) return;
      const key = e.key.toLowerCase();
      if (key === "z" && !e.shiftKey) {
        e.preventDefault();
        history.undo();
      } else if ((key === "z" && e.shiftKey) || key === "y") {
        e.preventDefault();
        history.redo();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [history.undo, history.redo]);

  const add = (kind: { preset?: string }, at?: { x: number; y: number }) => {
    const name = freeName(doc, kind.preset ?? "service");
    commit((d) => addService(d, name, kind.preset ? { $catalog: kind.preset } : {}, at ?? nextPosition(d)));
    setSelected([name]);
  };

  const exportFile = async (mode: "download" | "save", overwrite = false) => {
    setNotice(undefined);
    try {
      const request = { name: doc.name, environment: doc.environment, format, target };
      if (mode === "download") {
        const answer = await api.exportFile(request);
        if (!answer.ok) {
          setNotice({
            kind: "error",
            text: `Export blocked: ${answer.problems[0]?.message ?? "the plan has problems"}`,
          });
          return;
        }
        setExported({ doc, format, content: answer.content });
        setTab("file");
        download(answer.file, answer.content);
        setNotice({ kind: "info", text: `Downloaded ${answer.file.split("/").pop()}` });
        return;
      }
      const answer = await api.save({ ...request, overwrite });
      if (answer.ok) {
        setNotice({
          kind: "info",
          text: `Saved ${answer.file}${answer.replaced ? ` (replaced ${answer.replaced})` : ""}`,
        });
        await loadSession();
      } else if ("exists" in answer) {
        setConfirm({
          message: `${answer.exists} already exists. Replace it?`,
          onYes: () => void exportFile("save", true),
        });
      } else {
        setNotice({
          kind: "error",
          text: `Save blocked: ${answer.problems[0]?.message ?? "the plan has problems"}`,
        });
      }
    } catch (error) {
      fail(error);
    }
  };

  const importEnvironment = async (name: string) => {
    setNotice(undefined);
    try {
      const answer = await api.importEnvironment({ name });
      if (!answer.ok) {
        setNotice({ kind: "error", text: answer.error });
        return;
      }
      const next: Doc = { name: answer.name, environment: answer.environment, positions: {} };
      next.positions = autoLayout(next);
      history.reset(next);
      setSelected([]);
      setFitKey((k) => k + 1);
      setFormat(answer.format);
      setNotice(
        answer.roundTrips
          ? { kind: "info", text: `Opened ${answer.file}` }
          : {
              kind: "info",
              text: `Opened ${answer.file}. It was not written by the studio: saving rewrites it from its evaluated values.`,
            },
      );
    } catch (error) {
      fail(error);
    }
  };

  if (fatal) {
    return (
      <div className="fatal" role="alert" data-testid="fatal">
        <h1>kaupang studio</h1>
        <p>{fatal}</p>
      </div>
    );
  }

  const environments = session?.project?.environments ?? [];
  const environmentProblems = problems.filter((p) => p.scope === "environment");
  const file = plan?.file ?? `environments/${doc.name}.ts`;
  const saveFile = `${session?.project?.environmentsDir ?? "environments"}/${doc.name}.${format}`;

  return (
    <div className="app">
      <header className="toolbar">
        <div className="brand">
          kaupang <span>studio</span>
        </div>
        <div className="env-title" data-testid="title">
          {session?.project ? `${session.project.name} / ` : ""}
          <strong>{doc.name}</strong>
        </div>
        <label className="tool">
          target
          <select
            value={target}
            onChange={(e) => setTarget(e.target.value)}
            aria-label="target"
            data-testid="target"
          >
            {(session?.project?.targets ?? ["local"]).map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label className="tool">
          open
          <select
            aria-label="open an environment"
            value=""
            data-testid="import"
            onChange={(e) => e.target.value && void importEnvironment(e.target.value)}
          >
            <option value="">environment…</option>
            {environments.map((e) => (
              <option key={e.name} value={e.name}>
                {e.file}
              </option>
            ))}
          </select>
        </label>
        <div className="spacer" />
        <button
          type="button"
          onClick={history.undo}
          disabled={!history.canUndo}
          title="Undo (Ctrl+Z)"
          data-testid="undo"
        >
          Undo
        </button>
        <button
          type="button"
          onClick={history.redo}
          disabled={!history.canRedo}
          title="Redo (Ctrl+Shift+Z)"
          data-testid="redo"
        >
          Redo
        </button>
        <select
          value={format}
          onChange={(e) => setFormat(e.target.value as ExportFormat)}
          aria-label="format"
          data-testid="format"
        >
          <option value="ts">TypeScript</option>
          <option value="json">JSON</option>
        </select>
        <button
          type="button"
          onClick={() => void exportFile("download")}
          disabled={blocked}
          title={blocked ? "Fix the problems first" : "Download the environment file"}
          data-testid="export"
        >
          Export
        </button>
        <button
          type="button"
          className="primary"
          onClick={() => void exportFile("save")}
          disabled={blocked}
          title={blocked ? "Fix the problems first" : `Save as ${saveFile}`}
          data-testid="save"
        >
          Save {saveFile}
        </button>
      </header>

      {session?.projectError && (
        <div className="banner error" role="alert">
          No project here: {session.projectError}.
        </div>
      )}
      {notice && (
        <div
          className={`banner ${notice.kind}`}
          role={notice.kind === "error" ? "alert" : "status"}
          data-testid="notice"
        >
          {notice.text}
          <button type="button" className="icon" aria-label="dismiss" onClick={() => setNotice(undefined)}>
            ×
          </button>
        </div>
      )}

      <Palette
        catalog={catalog}
        onAdd={(kind) => add(kind)}
        onReload={() => api.reloadCatalog().then(setCatalog).then(loadSession).catch(fail)}
      />

      <main className="main">
        <ReactFlowProvider>
          <Canvas
            doc={doc}
            fitKey={fitKey}
            presets={presets}
            problems={problems}
            cycle={cycle}
            selected={selected}
            onSelect={(nodes) => setSelected(nodes)}
            onMove={(name, x, y, dragging) => {
              const move = (d: Doc) => ({ ...d, positions: { ...d.positions, [name]: { x, y } } });
              if (dragging) history.replace(move);
              else {
                history.replace(move);
                history.settle();
              }
            }}
            onConnect={(a, b) => commit((d) => connect(d, a, b))}
            onDelete={(nodes, edges) => {
              commit((d) => edges.reduce((acc, [a, b]) => disconnect(acc, a, b), removeServices(d, nodes)));
              setSelected([]);
            }}
            onDropPreset={(kind, x, y) => add(kind, { x, y })}
          />
        </ReactFlowProvider>
      </main>

      <aside className="side">
        {shown ? (
          <ServicePanel
            doc={doc}
            name={shown}
            preset={(() => {
              const c = doc.environment.services[shown];
              const ref = typeof c === "object" ? c.$catalog : undefined;
              return ref ? presets.get(ref.replace(/@[^@]*$/, "")) : undefined;
            })()}
            problems={problems.filter((p) => p.service === shown)}
            commit={commit}
            update={(name, patch, group) => commit((d) => updateService(d, name, patch), group)}
            onRename={(from, to) => {
              if (to === "") return "a service needs a name";
              if (to in doc.environment.services) return `"${to}" is taken`;
              commit((d) => renameService(d, from, to));
              setSelected([to]);
              return undefined;
            }}
            onRemove={(name) => {
              commit((d) => removeServices(d, [name]));
              setSelected([]);
            }}
          />
        ) : (
          <EnvironmentPanel
            doc={doc}
            file={saveFile}
            environments={environments.map((e) => e.name)}
            problems={environmentProblems}
            commit={commit}
            onRename={(to) => commit((d) => ({ ...d, name: to }))}
          />
        )}
      </aside>

      <section className="preview" aria-label="Preview">
        <div className="tabs" role="tablist">
          <button
            type="button"
            role="tab"
            aria-selected={tab === "dry-run"}
            className={tab === "dry-run" ? "on" : ""}
            onClick={() => setTab("dry-run")}
            data-testid="tab-dry-run"
          >
            Dry run
          </button>
          <button
            type="button"
            role="tab"
            aria-selected={tab === "artifact"}
            className={tab === "artifact" ? "on" : ""}
            onClick={() => setTab("artifact")}
            data-testid="tab-artifact"
          >
            {plan?.plan ? `${plan.plan.artifact.path}` : "Rendered file"}
          </button>
          <button
            type="button"
            role="tab"
            aria-selected={tab === "file"}
            className={tab === "file" ? "on" : ""}
            onClick={() => setTab("file")}
            data-testid="tab-file"
          >
            Exported file
          </button>
          <div className="spacer" />
          <span className={`status ${plan?.ok ? "ok" : "bad"}`} data-testid="plan-status">
            {planning || !plan
              ? "checking…"
              : plan.ok
                ? `valid for ${plan.plan?.target} (${plan.plan?.backend})`
                : `${problems.length} problem${problems.length === 1 ? "" : "s"}`}
          </span>
        </div>
        <div className="preview-body">
          {problems.length > 0 && (
            <ul className="problems" data-testid="problems">
              {plan?.cycle && (
                <li className="cycle" data-testid="cycle">
                  {plan.cycle.kind === "services" ? "Service" : "Environment"} dependency cycle:{" "}
                  {plan.cycle.nodes.join(" → ")}. Export is blocked until it is broken.
                </li>
              )}
              {problems
                .filter((p) => !p.cycle)
                .map((p) => (
                  <li key={`${p.scope}:${p.service ?? ""}:${p.path.join(".")}:${p.message}`}>
                    <button
                      type="button"
                      className="link"
                      onClick={() => setSelected(p.service ? [p.service] : [])}
                    >
                      {p.service
                        ? `${p.service}${p.field ? `.${p.field}` : ""}`
                        : p.scope === "environment"
                          ? `environment${p.field ? `.${p.field}` : ""}`
                          : file}
                    </button>{" "}
                    {p.message}
                  </li>
                ))}
            </ul>
          )}
          {tab === "dry-run" && plan?.plan && <pre data-testid="dry-run">{plan.plan.text}</pre>}
          {tab === "artifact" && plan?.plan && <pre data-testid="artifact">{plan.plan.artifact.content}</pre>}
          {tab !== "file" && plan && !plan.ok && (
            <p className="muted">
              No plan while the drawing has problems: `kaupang up {doc.name}` would stop with the first one.
            </p>
          )}
          {tab === "file" && (
            <pre data-testid="exported">
              {exported && exported.doc === doc && exported.format === format
                ? exported.content
                : blocked
                  ? "Export is blocked while the plan has problems."
                  : "Press Export to see the file."}
            </pre>
          )}
        </div>
      </section>

      {confirm && (
        <div className="modal" role="dialog" aria-modal="true" aria-label="Confirm">
          <div className="modal-box">
            <p>{confirm.message}</p>
            <div className="row-buttons">
              <button type="button" onClick={() => setConfirm(undefined)} data-testid="confirm-no">
                Cancel
              </button>
              <button
                type="button"
                className="primary"
                data-testid="confirm-yes"
                onClick={() => {
                  const { onYes } = confirm;
                  setConfirm(undefined);
                  onYes();
                }}
              >
                Replace
              </button>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
