/**
 * A small generic DAG: waves of nodes whose dependencies are all in earlier
 * waves. Deterministic (names sorted inside a wave). Reports a cycle as the
 * path that closes it, and a dependency on an unknown node with who asked.
 */
type GraphProblem = { kind: "cycle"; cycle: string[] } | { kind: "missing"; from: string; missing: string };

export class GraphError extends Error {
  constructor(readonly problem: GraphProblem) {
    super(
      problem.kind === "cycle"
        ? `dependency cycle: ${problem.cycle.join(" → ")}`
        : `"${problem.from}" depends on unknown "${problem.missing}"`,
    );
    this.name = "GraphError";
  }
}

/** Nodes grouped in waves; every node's dependencies are in earlier waves. */
export function topoWaves(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  for (const [node, deps] of graph) {
    for (const dep of deps) {
      if (!graph.has(dep)) throw new GraphError({ kind: "missing", from: node, missing: dep });
    }
  }
  const level = new Map<string, number>();
  const visiting: string[] = [];
  const onPath = new Set<string>();

  const visit = (node: string): number => {
    const known = level.get(node);
    if (known !== undefined) return known;
    if (onPath.has(node)) {
      const start = visiting.indexOf(node);
      throw new GraphError({ kind: "cycle", cycle: [...visiting.slice(start), node] });
    }
    onPath.add(node);
    visiting.push(node);
    let depth = 0;
    for (const dep of [...(graph.get(node) ?? [])].sort()) depth = Math.max(depth, visit(dep) + 1);
    visiting.pop();
    onPath.delete(node);
    level.set(node, depth);
    return depth;
  };

  for (const node of [...graph.keys()].sort()) visit(node);
  const waves: string[][] = [];
  for (const [node, depth] of level) {
    waves[depth] ??= [];
    waves[depth].push(node);
  }
  return waves.map((wave) => wave.sort());
}
