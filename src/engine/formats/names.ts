// The export formats Ferry writes, by name: a leaf module, so that what needs only
// the names (the CLI's usage text) does not load the writers (registry.ts).

export const exportFormats = [
  'csv',
  'tsv',
  'xlsx',
  'json',
  'ndjson',
  'xml',
  'pdf',
  'datev',
  'bmd',
  'saft',
] as const;
export type ExportFormat = (typeof exportFormats)[number];
