/**
 * The canvas: one node per service, one edge per dependsOn (drawn from the
 * dependency's right handle to the dependent's left handle). Problems the
 * core reported show on their node; a dependency cycle is drawn in red.
 */
import {
  Background,
  Controls,
  type Edge,
  type EdgeChange,
  Handle,
  MarkerType,
  type Node,
  type NodeChange,
  type NodeProps,
  Position,
  ReactFlow,
  useReactFlow,
} from "@xyflow/react";
import { type DragEvent, memo, useEffect, useMemo, useState } from "react";
import type { Preset, Problem } from "./api.js";
import { type Doc, edgesOf, serviceNames, serviceOf } from "./model.js";

interface ServiceData extends Record<string, unknown> {
  name: string;
  preset?: string;
  image?: string;
  ports: string[];
  problems: string[];
  inCycle: boolean;
  secrets: number;
}

type ServiceNodeType = Node<ServiceData, "service">;

const ServiceNode = memo(function ServiceNode({ data, selected }: NodeProps<ServiceNodeType>) {
  const bad = data.problems.length > 0 || data.inCycle;
  return (
    <div
      className={`node${selected ? " selected" : ""}${bad ? " bad" : ""}`}
      data-testid={`node-${data.name}`}
      title={data.problems.join("\n")}
    >
      <Handle type="target" position={Position.Left} className="handle" />
      <div className="node-head">
        <span className="node-name">{data.name}</span>
        <span className={`badge ${data.preset ? "preset" : "custom"}`}>
          {data.preset ? data.preset : "custom"}
        </span>
      </div>
      <div className="node-image">{data.image ?? <em>no image</em>}</div>
      {data.ports.length > 0 && <div className="node-ports">ports {data.ports.join(", ")}</div>}
      {data.secrets > 0 && (
        <div className="node-secrets">
          {data.secrets} secret{data.secrets > 1 ? "s" : ""}
        </div>
      )}
      {bad && (
        <div className="node-problem" data-testid={`node-problem-${data.name}`}>
          {data.inCycle ? "in a dependency cycle" : data.problems[0]}
          {data.problems.length > 1 ? ` (+${data.problems.length - 1})` : ""}
        </div>
      )}
      <Handle type="source" position={Position.Right} className="handle" />
    </div>
  );
});

const nodeTypes = { service: ServiceNode };

interface CanvasProps {
  doc: Doc;
  /** Changes when the view should fit the whole drawing (after an import). */
  fitKey: number;
  presets: Map<string, Preset>;
  problems: Problem[];
  cycle: string[];
  selected: string[];
  onSelect(nodes: string[], edges: string[]): void;
  onMove(name: string, x: number, y: number, dragging: boolean): void;
  onConnect(dependency: string, dependent: string): void;
  onDelete(nodes: string[], edges: [string, string][]): void;
  onDropPreset(kind: { preset?: string }, x: number, y: number): void;
}

const edgeId = (dependency: string, dependent: string) => `${dependency}->${dependent}`;

export function Canvas(props: CanvasProps) {
  const { doc, presets, problems, cycle, selected } = props;
  const flow = useReactFlow();
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});
  const [selectedEdges, setSelectedEdges] = useState<string[]>([]);

  useEffect(() => {
    if (props.fitKey === 0) return;
    const timer = setTimeout(() => void flow.fitView({ padding: 0.15, maxZoom: 1, duration: 0 }), 60);
    return () => clearTimeout(timer);
  }, [props.fitKey, flow]);

  // Consecutive names of the cycle path: the first depends on the second.
  const cycleEdges = useMemo(() => {
    const set = new Set<string>();
    for (let i = 0; i + 1 < cycle.length; i++) set.add(edgeId(cycle[i + 1]!, cycle[i]!));
    return set;
  }, [cycle]);

  const nodes: ServiceNodeType[] = useMemo(
    () =>
      serviceNames(doc).map((name) => {
        const service = serviceOf(doc, name);
        const preset = service.$catalog ? presets.get(service.$catalog.replace(/@[^@]*$/, "")) : undefined;
        const ports = (service.ports ?? preset?.service.ports ?? []).map(String);
        const secrets = Object.values(service.env ?? {}).filter((v) => typeof v === "object").length;
        return {
          id: name,
          type: "service" as const,
          position: doc.positions[name] ?? { x: 0, y: 0 },
          selected: selected.includes(name),
          ...(measured[name] ? { measured: measured[name] } : {}),
          data: {
            name,
            ...(service.$catalog ? { preset: service.$catalog } : {}),
            ...((service.image ?? preset?.image) ? { image: service.image ?? preset?.image } : {}),
            ports,
            secrets,
            problems: problems
              .filter((p) => p.service === name)
              .map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)),
            inCycle: cycle.includes(name),
          },
        };
      }),
    [doc, presets, problems, cycle, selected, measured],
  );

  const edges: Edge[] = useMemo(
    () =>
      edgesOf(doc).map(([dependency, dependent]) => {
        const id = edgeId(dependency, dependent);
        const bad = cycleEdges.has(id);
        const known = dependency in doc.environment.services;
        // An edge that runs right to left (a cycle closes that way) is routed around the nodes.
        const backward = (doc.positions[dependency]?.x ?? 0) >= (doc.positions[dependent]?.x ?? 0);
        return {
          id,
          type: backward ? "smoothstep" : "default",
          source: dependency,
          target: dependent,
          selected: selectedEdges.includes(id),
          animated: bad,
          className: bad ? "edge-cycle" : undefined,
          markerEnd: { type: MarkerType.ArrowClosed, color: bad ? "#c2410c" : "#64748b" },
          hidden: !known,
          data: { dependency, dependent },
        };
      }),
    [doc, cycleEdges, selectedEdges],
  );

  const onNodesChange = (changes: NodeChange<ServiceNodeType>[]) => {
    let selection: string[] | undefined;
    for (const change of changes) {
      if (change.type === "dimensions" && change.dimensions) {
        const { width, height } = change.dimensions;
        setMeasured((m) => ({ ...m, [change.id]: { width, height } }));
      } else if (change.type === "position" && change.position) {
        props.onMove(change.id, change.position.x, change.position.y, change.dragging ?? false);
      } else if (change.type === "position" && change.dragging === false) {
        const at = doc.positions[change.id];
        if (at) props.onMove(change.id, at.x, at.y, false);
      } else if (change.type === "select") {
        selection ??= [...selected];
        selection = change.selected
          ? [...selection.filter((s) => s !== change.id), change.id]
          : selection.filter((s) => s !== change.id);
      }
    }
    if (selection) props.onSelect(selection, selectedEdges);
  };

  const onEdgesChange = (changes: EdgeChange[]) => {
    let next: string[] | undefined;
    for (const change of changes) {
      if (change.type === "select") {
        next ??= [...selectedEdges];
        next = change.selected ? [...next, change.id] : next.filter((e) => e !== change.id);
      }
    }
    if (next) {
      setSelectedEdges(next);
      props.onSelect(selected, next);
    }
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    const raw = event.dataTransfer.getData("application/x-kaupang-service");
    if (!raw) return;
    const kind = JSON.parse(raw) as { preset?: string };
    const at = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    props.onDropPreset(kind, Math.round(at.x - 100), Math.round(at.y - 30));
  };

  return (
    <div
      className="canvas"
      role="application"
      aria-label="Canvas"
      data-testid="canvas"
      onDragOver={(e) => e.preventDefault()}
      onDrop={onDrop}
    >
      <ReactFlow<ServiceNodeType, Edge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={(c) => c.source && c.target && props.onConnect(c.source, c.target)}
        onDelete={({ nodes: gone, edges: cut }) => {
          const names = gone.map((n) => n.id);
          const pairs = cut
            .map((e) => [e.source, e.target] as [string, string])
            .filter(([a, b]) => !names.includes(a) && !names.includes(b));
          setSelectedEdges([]);
          props.onDelete(names, pairs);
        }}
        onPaneClick={() => props.onSelect([], [])}
        deleteKeyCode={["Delete", "Backspace"]}
        multiSelectionKeyCode={["Shift", "Meta", "Control"]}
        fitView={false}
        defaultViewport={{ x: 0, y: 0, zoom: 1 }}
        minZoom={0.3}
        maxZoom={2}
        isValidConnection={(c) => c.source !== c.target}
      >
        <Background gap={20} size={1} color="#d6d3d1" />
        <Controls showInteractive={false} />
      </ReactFlow>
      {serviceNames(doc).length === 0 && (
        <div className="canvas-hint">
          Drag presets or a custom service here. Draw an edge from a service's right handle to another's left
          handle: the second one then depends on the first.
        </div>
      )}
    </div>
  );
}
