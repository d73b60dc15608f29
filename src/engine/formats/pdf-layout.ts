// How a table goes onto PDF pages: each column's width, portrait or landscape,
// and, when even landscape is too narrow, bands of columns shown one after
// another for the same rows, each band repeating the first (key) column.

export interface ColumnNeed {
  /** Width that shows every sampled value on one line (padding included). */
  natural: number;
  /** Narrowest width the column may get: equal to natural for values that never wrap. */
  minimum: number;
}

export interface TablePlan {
  landscape: boolean;
  widths: number[];
  /** Column indexes per band; one band when the table fits the page. */
  bands: number[][];
}

/** Widths for some columns within `available` points, or null when their minimums do not fit. */
function fit(needs: ColumnNeed[], columns: number[], available: number): Map<number, number> | null {
  const natural = columns.reduce((s, c) => s + needs[c]!.natural, 0);
  if (natural <= available) return new Map(columns.map((c) => [c, needs[c]!.natural]));
  const minimum = columns.reduce((s, c) => s + needs[c]!.minimum, 0);
  if (minimum > available) return null;
  // Columns that can wrap share the room left, in proportion to how much they would like.
  const spare = available - minimum;
  const wanted = natural - minimum;
  return new Map(
    columns.map((c) => {
      const n = needs[c]!;
      return [c, n.minimum + ((n.natural - n.minimum) / wanted) * spare];
    }),
  );
}

/**
 * The layout for a table: portrait if it fits, landscape if that fits (or when
 * asked for), else landscape bands. A column wider than a whole band is given
 * the band's room (its values are then squeezed or wrapped, never cut).
 */
export function planTable(
  needs: ColumnNeed[],
  page: { portrait: number; landscape: number },
  preferLandscape: boolean,
): TablePlan {
  const all = needs.map((_, i) => i);
  if (!preferLandscape) {
    const widths = fit(needs, all, page.portrait);
    if (widths) return { landscape: false, widths: all.map((c) => widths.get(c)!), bands: [all] };
  }
  const room = page.landscape;
  const widths = fit(needs, all, room);
  if (widths) return { landscape: true, widths: all.map((c) => widths.get(c)!), bands: [all] };
  if (needs.length === 1) return { landscape: true, widths: [room], bands: [all] };

  // The key column keeps at most a third of the page.
  const key = Math.min(needs[0]!.minimum, room / 3);
  const capped = needs.map((n, i) =>
    i === 0
      ? { natural: Math.min(n.natural, room / 3), minimum: key }
      : { natural: Math.min(n.natural, room - key), minimum: Math.min(n.minimum, room - key) },
  );
  const bands: number[][] = [];
  let band: number[] = [];
  let used = key;
  for (let c = 1; c < needs.length; c++) {
    if (band.length > 0 && used + capped[c]!.minimum > room) {
      bands.push(band);
      band = [];
      used = key;
    }
    band.push(c);
    used += capped[c]!.minimum;
  }
  bands.push(band);
  const result: number[] = needs.map(() => 0);
  const withKey = bands.map((b) => [0, ...b]);
  for (const b of withKey) {
    const w = fit(capped, b, room)!;
    for (const c of b) if (c !== 0) result[c] = w.get(c)!;
  }
  // The key column is as wide in every band: the narrowest any band gives it.
  result[0] = Math.min(...withKey.map((b) => fit(capped, b, room)!.get(0)!));
  return { landscape: true, widths: result, bands: withKey };
}
