import { Badge, Box, Group, Text, Tooltip } from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useRef } from 'react';
import type { ResponseOf } from '../../api/client';
import { useFormat } from '../../components/time';
import { useT } from '../../i18n';

export type PreviewResult = ResponseOf<'/api/v1/reports/preview', 'post'>;

const ROW_HEIGHT = 32;
const COLUMN_WIDTH = 180;
const INDEX_WIDTH = 56;

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The preview's rows as a virtualised grid: only the rows in view are in the page. */
export function PreviewGrid({ result }: { result: PreviewResult }) {
  const t = useT();
  const f = useFormat();
  const scroller = useRef<HTMLDivElement>(null);
  const rows = useVirtualizer({
    count: result.rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const width = INDEX_WIDTH + result.columns.length * COLUMN_WIDTH;
  const cut = new Map(result.cutValues.map((c) => [`${c.row}:${c.column}`, c.bytes]));
  const cellStyle = {
    width: COLUMN_WIDTH,
    minWidth: COLUMN_WIDTH,
    padding: '0 8px',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    whiteSpace: 'nowrap' as const,
    borderRight: '1px solid var(--mantine-color-default-border)',
    lineHeight: `${ROW_HEIGHT}px`,
  };
  return (
    <Box
      ref={scroller}
      // It scrolls: reachable by keyboard (arrow keys scroll it once focused).
      tabIndex={0}
      role="region"
      aria-label={t('reports.preview.grid')}
      data-testid="preview-grid"
      style={{
        height: Math.min(420, ROW_HEIGHT * (result.rows.length + 2) + 24),
        overflow: 'auto',
        border: '1px solid var(--mantine-color-default-border)',
        borderRadius: 'var(--mantine-radius-sm)',
        fontSize: 'var(--mantine-font-size-sm)',
      }}
    >
      {/* A table laid out as a grid: the rows in view are positioned inside a body as tall as all rows. */}
      <table
        aria-label={t('reports.preview.grid')}
        aria-rowcount={result.rows.length + 1}
        style={{ display: 'grid', width, borderCollapse: 'collapse' }}
      >
        <thead
          style={{
            display: 'grid',
            position: 'sticky',
            top: 0,
            zIndex: 1,
            backgroundColor: 'var(--mantine-color-body)',
            borderBottom: '1px solid var(--mantine-color-default-border)',
          }}
        >
          <tr aria-rowindex={1} style={{ display: 'flex', width }}>
            <th style={{ ...cellStyle, width: INDEX_WIDTH, minWidth: INDEX_WIDTH, textAlign: 'left' }}>
              <Text size="xs" c="dimmed" component="span">
                #
              </Text>
            </th>
            {result.columns.map((c, i) => (
              <th
                // biome-ignore lint/suspicious/noArrayIndexKey: columns may share a name; their place is their identity
                key={i}
                style={{ ...cellStyle, lineHeight: 1.2, paddingTop: 4, paddingBottom: 4, textAlign: 'left' }}
                data-column={c.name}
              >
                <Text size="sm" fw={600} truncate="end" component="div">
                  {c.name}
                </Text>
                <Group gap={4} wrap="nowrap">
                  <Badge size="xs" variant="light" color="gray" tt="none">
                    {c.type}
                  </Badge>
                  <Text size="xs" c="dimmed" truncate="end" component="span">
                    {c.dbType}
                  </Text>
                </Group>
              </th>
            ))}
          </tr>
        </thead>
        <tbody style={{ display: 'grid', height: rows.getTotalSize(), position: 'relative' }}>
          {rows.getVirtualItems().map((item) => {
            const row = result.rows[item.index] ?? [];
            return (
              <tr
                key={item.key}
                aria-rowindex={item.index + 2}
                data-testid="preview-row"
                style={{
                  display: 'flex',
                  position: 'absolute',
                  top: 0,
                  left: 0,
                  width,
                  height: ROW_HEIGHT,
                  transform: `translateY(${item.start}px)`,
                  borderBottom: '1px solid var(--mantine-color-default-border)',
                }}
              >
                <td style={{ ...cellStyle, width: INDEX_WIDTH, minWidth: INDEX_WIDTH }}>
                  <Text span size="xs" c="dimmed">
                    {item.index + 1}
                  </Text>
                </td>
                {row.map((value, ci) => {
                  const text = cellText(value);
                  const cutBytes = cut.get(`${item.index}:${ci}`);
                  const numeric = ['integer', 'bigint', 'decimal', 'float'].includes(
                    result.columns[ci]?.type ?? '',
                  );
                  return (
                    <td
                      // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional
                      key={ci}
                      title={text.length > 20 ? text.slice(0, 2000) : undefined}
                      style={{ ...cellStyle, textAlign: numeric ? 'right' : 'left' }}
                    >
                      {value === null ? (
                        <Text span size="xs" c="dimmed" fs="italic">
                          NULL
                        </Text>
                      ) : cutBytes !== undefined ? (
                        <Tooltip label={t('reports.preview.cut', { size: f.bytes(cutBytes) })}>
                          <span>{text}…</span>
                        </Tooltip>
                      ) : (
                        text
                      )}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </Box>
  );
}
