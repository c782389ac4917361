/**
 * The palette: the catalog's presets (searchable, with image and ports) and a
 * custom service. Drag one onto the canvas, or click it (Enter) to add it.
 */
import { type DragEvent, type ReactNode, useState } from "react";
import type { CatalogResponse, Preset } from "./api.js";

interface PaletteProps {
  catalog: CatalogResponse | undefined;
  onAdd(kind: { preset?: string }): void;
  onReload(): void;
}

function drag(event: DragEvent, kind: { preset?: string }) {
  event.dataTransfer.setData("application/x-kaupang-service", JSON.stringify(kind));
  event.dataTransfer.effectAllowed = "copy";
}

function Item(props: { preset?: Preset; onAdd(): void; children: ReactNode; testId: string }) {
  return (
    <li>
      <button
        type="button"
        className={`palette-item${props.preset ? "" : " custom"}`}
        draggable
        data-testid={props.testId}
        onDragStart={(e) => drag(e, props.preset ? { preset: props.preset.name } : {})}
        onClick={props.onAdd}
        title="Drag onto the canvas, or click (Enter) to add"
      >
        {props.children}
      </button>
    </li>
  );
}

export function Palette({ catalog, onAdd, onReload }: PaletteProps) {
  const [query, setQuery] = useState("");
  const q = query.trim().toLowerCase();
  const presets =
    catalog?.ok === true
      ? catalog.presets.filter(
          (p) => q === "" || p.name.toLowerCase().includes(q) || (p.image ?? "").toLowerCase().includes(q),
        )
      : [];
  return (
    <aside className="palette" aria-label="Palette">
      <h2>Palette</h2>
      <ul className="palette-list">
        <Item onAdd={() => onAdd({})} testId="palette-custom">
          <div className="item-name">Custom service</div>
          <div className="item-meta">your own image or build</div>
        </Item>
      </ul>
      <div className="palette-catalog">
        <div className="palette-title">
          <span>Catalog</span>
          <button type="button" className="link" onClick={onReload} title="Fetch the catalog again">
            reload
          </button>
        </div>
        {catalog === undefined && <div className="muted">loading…</div>}
        {catalog?.ok === false && (
          <div className="catalog-error" role="alert" data-testid="catalog-error">
            <strong>The catalog could not be loaded.</strong>
            <div>{catalog.error}</div>
            {catalog.hint && <div className="muted">{catalog.hint}</div>}
            <div className="muted">Custom services still work.</div>
          </div>
        )}
        {catalog?.ok === true && (
          <>
            <input
              className="search"
              type="search"
              placeholder={`Search ${catalog.presets.length} presets`}
              value={query}
              onChange={(e) => setQuery(e.target.value)}
              aria-label="Search presets"
              data-testid="palette-search"
            />
            <div className="muted small">{catalog.label}</div>
            <ul className="palette-list">
              {presets.map((preset) => (
                <Item
                  key={preset.name}
                  preset={preset}
                  onAdd={() => onAdd({ preset: preset.name })}
                  testId={`preset-${preset.name}`}
                >
                  <div className="item-name">{preset.name}</div>
                  <div className="item-meta">{preset.image ?? "no image"}</div>
                  {preset.ports.length > 0 && (
                    <div className="item-meta">ports {preset.ports.join(", ")}</div>
                  )}
                </Item>
              ))}
              {presets.length === 0 && <li className="muted">no preset matches</li>}
            </ul>
          </>
        )}
      </div>
    </aside>
  );
}
