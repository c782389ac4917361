/**
 * Undo/redo as stacks of whole drawings. Typing into one field is one step
 * (edits with the same `group` merge), and a node drag is one step (begin at
 * the start, the moves replace, end commits).
 */
import { useCallback, useRef, useState } from "react";
import type { Doc } from "./model.js";

interface State {
  past: Doc[];
  present: Doc;
  future: Doc[];
}

const limit = 200;

export function useHistory(initial: Doc) {
  const [state, setState] = useState<State>({ past: [], present: initial, future: [] });
  const lastGroup = useRef<string | undefined>(undefined);
  const dragStart = useRef<Doc | undefined>(undefined);
  // The drawing as last rendered, for decisions taken when an edit is made (not when React applies it).
  const present = useRef(state.present);
  present.current = state.present;

  /** Apply an edit; with a group equal to the previous edit's, it joins that step. */
  const commit = useCallback((edit: (doc: Doc) => Doc, group?: string) => {
    const joins = group !== undefined && group === lastGroup.current;
    setState((s) => {
      const next = edit(s.present);
      if (next === s.present) return s;
      if (joins) return { ...s, present: next, future: [] };
      return { past: [...s.past, s.present].slice(-limit), present: next, future: [] };
    });
    lastGroup.current = group;
  }, []);

  /** Change the drawing without a step (node positions while dragging). */
  const replace = useCallback((edit: (doc: Doc) => Doc) => {
    dragStart.current ??= present.current;
    setState((s) => ({ ...s, present: edit(s.present) }));
  }, []);

  /** The end of a drag: one step from where it started. */
  const settle = useCallback(() => {
    const start = dragStart.current;
    dragStart.current = undefined;
    lastGroup.current = undefined;
    if (!start) return;
    setState((s) =>
      s.present === start ? s : { past: [...s.past, start].slice(-limit), present: s.present, future: [] },
    );
  }, []);

  const undo = useCallback(() => {
    lastGroup.current = undefined;
    setState((s) =>
      s.past.length === 0
        ? s
        : {
            past: s.past.slice(0, -1),
            present: s.past[s.past.length - 1]!,
            future: [s.present, ...s.future],
          },
    );
  }, []);

  const redo = useCallback(() => {
    lastGroup.current = undefined;
    setState((s) =>
      s.future.length === 0
        ? s
        : { past: [...s.past, s.present], present: s.future[0]!, future: s.future.slice(1) },
    );
  }, []);

  /** Start over from `doc` (an import), with no history. */
  const reset = useCallback((doc: Doc) => {
    lastGroup.current = undefined;
    dragStart.current = undefined;
    setState({ past: [], present: doc, future: [] });
  }, []);

  return {
    doc: state.present,
    canUndo: state.past.length > 0,
    canRedo: state.future.length > 0,
    commit,
    replace,
    settle,
    undo,
    redo,
    reset,
  };
}
