import {
  autocompletion,
  closeBrackets,
  closeBracketsKeymap,
  completionKeymap,
} from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { MySQL, PostgreSQL, SQLite, type SQLNamespace, sql } from '@codemirror/lang-sql';
import { bracketMatching, HighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { highlightSelectionMatches, search, searchKeymap } from '@codemirror/search';
import { Compartment, EditorSelection, EditorState } from '@codemirror/state';
import {
  Decoration,
  type DecorationSet,
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  MatchDecorator,
  placeholder as placeholderText,
  ViewPlugin,
  type ViewUpdate,
} from '@codemirror/view';
import { tags } from '@lezer/highlight';
import { Box } from '@mantine/core';
import { useEffect, useRef } from 'react';
import type { SchemaTable } from '../../components/SchemaBrowser';

// The SQL editor: CodeMirror 6 with the dialect of the connection, completion of
// the connection's tables and columns, line numbers, search (Ctrl+F), undo
// history, and {{parameters}} marked. CodeMirror needs no eval (CSP-safe); its
// styles are injected as style elements, which the CSP allows.

const dialects = { postgres: PostgreSQL, demo: PostgreSQL, mysql: MySQL, sqlite: SQLite } as const;

/**
 * Colours from Mantine's variables: right in light and dark. The "-light-color"
 * shades (9 on light, 0 on dark) of these palettes keep 4.5:1 contrast on the
 * editor's background; green, orange and cyan text would not.
 */
const highlight = HighlightStyle.define([
  { tag: tags.keyword, color: 'var(--mantine-color-violet-light-color)', fontWeight: '600' },
  { tag: [tags.string, tags.special(tags.string)], color: 'var(--mantine-color-teal-light-color)' },
  { tag: [tags.number, tags.bool, tags.null], color: 'var(--mantine-color-grape-light-color)' },
  { tag: tags.comment, color: 'var(--mantine-color-dimmed)', fontStyle: 'italic' },
  { tag: [tags.typeName, tags.standard(tags.name)], color: 'var(--mantine-color-indigo-light-color)' },
  { tag: [tags.operator, tags.punctuation], color: 'var(--mantine-color-text)' },
  { tag: tags.special(tags.name), color: 'var(--mantine-color-blue-light-color)' },
]);

const theme = EditorView.theme({
  '&': {
    backgroundColor: 'var(--mantine-color-body)',
    color: 'var(--mantine-color-text)',
    fontSize: '13px',
    border: '1px solid var(--mantine-color-default-border)',
    borderRadius: 'var(--mantine-radius-sm)',
  },
  '&.cm-focused': { outline: '2px solid var(--mantine-primary-color-filled)', outlineOffset: '-1px' },
  '.cm-content': {
    fontFamily: 'var(--mantine-font-family-monospace)',
    caretColor: 'var(--mantine-color-text)',
  },
  '.cm-scroller': { fontFamily: 'var(--mantine-font-family-monospace)' },
  '.cm-gutters': {
    backgroundColor: 'var(--mantine-color-default-hover)',
    color: 'var(--mantine-color-dimmed)',
    border: 'none',
  },
  '.cm-activeLine, .cm-activeLineGutter': { backgroundColor: 'var(--mantine-color-default-hover)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': {
    backgroundColor: 'var(--mantine-primary-color-light)',
  },
  '.cm-cursor': { borderLeftColor: 'var(--mantine-color-text)' },
  '.cm-placeholder': { color: 'var(--mantine-color-dimmed)' },
  '.cm-tooltip': {
    backgroundColor: 'var(--mantine-color-body)',
    color: 'var(--mantine-color-text)',
    border: '1px solid var(--mantine-color-default-border)',
  },
  '.cm-tooltip-autocomplete ul li[aria-selected]': {
    backgroundColor: 'var(--mantine-primary-color-filled)',
    color: 'var(--mantine-color-white)',
  },
  '.cm-panels': { backgroundColor: 'var(--mantine-color-body)', color: 'var(--mantine-color-text)' },
  '.cm-panels input, .cm-panels button': { color: 'inherit' },
  '.cm-parameter': {
    backgroundColor: 'var(--mantine-color-yellow-light)',
    color: 'var(--mantine-color-text)',
    borderRadius: '3px',
  },
});

/** {{name}} marked as a parameter. */
const parameterMarks = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    matcher = new MatchDecorator({
      regexp: /\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}/g,
      decoration: Decoration.mark({ class: 'cm-parameter' }),
    });
    constructor(view: EditorView) {
      this.decorations = this.matcher.createDeco(view);
    }
    update(update: ViewUpdate) {
      this.decorations = this.matcher.updateDeco(update, this.decorations);
    }
  },
  { decorations: (v) => v.decorations },
);

function languageFor(connectionType: string | undefined, tables: SchemaTable[]) {
  const dialect = dialects[(connectionType ?? 'postgres') as keyof typeof dialects] ?? PostgreSQL;
  // Tables by schema-qualified and plain name, each with its columns.
  const schema: Record<string, SQLNamespace> = {};
  for (const table of tables) {
    const columns = table.columns.map((c) => ({ label: c.name, type: 'property', detail: c.dbType }));
    const entry = { self: { label: table.name, type: 'type', detail: table.kind }, children: columns };
    schema[table.name] = entry;
    if (table.schema) {
      const ns = (schema[table.schema] ?? {}) as Record<string, SQLNamespace>;
      if (!('self' in ns) && !Array.isArray(ns)) ns[table.name] = entry;
      schema[table.schema] = ns;
    }
  }
  return sql({ dialect, schema, upperCaseKeywords: true });
}

export function SqlEditor({
  value,
  onChange,
  label,
  connectionType,
  tables,
  readOnly = false,
  insert,
  placeholder,
  focusAt,
}: {
  value: string;
  onChange(value: string): void;
  label: string;
  connectionType: string | undefined;
  tables: SchemaTable[];
  readOnly?: boolean;
  /** Text to insert at the cursor; a new object inserts again. */
  insert?: { text: string } | null;
  placeholder?: string;
  /** A position (0-based offset) to put the cursor at, e.g. where the database reported an error. */
  focusAt?: { offset: number } | null;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const language = useRef(new Compartment());
  const editable = useRef(new Compartment());

  // Created once; later changes go in as transactions and reconfigurations.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the editor is made once per mount
  useEffect(() => {
    if (!host.current) return;
    const state = EditorState.create({
      doc: value,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        autocompletion(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        search({ top: true }),
        syntaxHighlighting(highlight),
        parameterMarks,
        keymap.of([
          ...closeBracketsKeymap,
          ...defaultKeymap,
          ...searchKeymap,
          ...historyKeymap,
          ...completionKeymap,
          indentWithTab,
        ]),
        theme,
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': label, 'aria-multiline': 'true' }),
        placeholderText(placeholder ?? ''),
        language.current.of(languageFor(connectionType, tables)),
        editable.current.of([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) onChangeRef.current(u.state.doc.toString());
        }),
      ],
    });
    const created = new EditorView({ state, parent: host.current });
    view.current = created;
    return () => {
      created.destroy();
      view.current = null;
    };
  }, []);

  useEffect(() => {
    view.current?.dispatch({ effects: language.current.reconfigure(languageFor(connectionType, tables)) });
  }, [connectionType, tables]);

  useEffect(() => {
    view.current?.dispatch({
      effects: editable.current.reconfigure([
        EditorState.readOnly.of(readOnly),
        EditorView.editable.of(!readOnly),
      ]),
    });
  }, [readOnly]);

  // A value set from outside (load, template, builder) replaces the text.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value)
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);

  useEffect(() => {
    const v = view.current;
    if (!v || !insert || readOnly) return;
    v.dispatch(v.state.replaceSelection(insert.text));
    v.focus();
  }, [insert, readOnly]);

  useEffect(() => {
    const v = view.current;
    if (!v || !focusAt) return;
    const at = Math.max(0, Math.min(focusAt.offset, v.state.doc.length));
    v.dispatch({ selection: EditorSelection.cursor(at), scrollIntoView: true });
    v.focus();
  }, [focusAt]);

  return <Box ref={host} data-testid="sql-editor" style={{ minHeight: 220 }} />;
}
