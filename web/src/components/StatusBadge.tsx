import { Badge } from '@mantine/core';
import { type MessageKey, useT } from '../i18n';

// Run statuses: icon, colour and word, never colour alone. Skips are grey, never green.
// The colour is the badge's background; the word is in the text colour, because
// Mantine's green, orange and teal (filled, or as light-variant text) stay below
// 4.5:1 contrast.
const STATUS: Record<string, { color: string; icon: string; key: MessageKey }> = {
  queued: { color: 'gray', icon: '◷', key: 'status.queued' },
  running: { color: 'blue', icon: '▶', key: 'status.running' },
  retrying: { color: 'orange', icon: '↻', key: 'status.retrying' },
  cancelling: { color: 'orange', icon: '■', key: 'status.cancelling' },
  succeeded: { color: 'green', icon: '✓', key: 'status.succeeded' },
  // The file was made but a destination did not get it: never green.
  partly_delivered: { color: 'orange', icon: '◐', key: 'status.partly_delivered' },
  failed: { color: 'red', icon: '✕', key: 'status.failed' },
  cancelled: { color: 'gray', icon: '■', key: 'status.cancelled' },
  skipped_missed: { color: 'gray', icon: '⤼', key: 'status.skipped_missed' },
  skipped_overlap: { color: 'gray', icon: '⤼', key: 'status.skipped_overlap' },
  skipped_condition: { color: 'gray', icon: '⤼', key: 'status.skipped_condition' },
};

export function StatusBadge({ status, size = 'md' }: { status: string; size?: 'sm' | 'md' | 'lg' }) {
  const t = useT();
  const s = STATUS[status] ?? { color: 'gray', icon: '?', key: undefined };
  return (
    <Badge
      color={s.color}
      variant="light"
      c="var(--mantine-color-text)"
      size={size}
      leftSection={<span aria-hidden="true">{s.icon}</span>}
      data-status={status}
    >
      {s.key ? t(s.key) : status}
    </Badge>
  );
}
