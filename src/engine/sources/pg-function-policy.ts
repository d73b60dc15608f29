// Which PostgreSQL functions report SQL may not call, decided from the
// documentation's chapters on system administration, server files, advisory
// locks, replication, configuration and sequence manipulation functions.
// Everything else (ordinary functions, including user-defined ones) is
// allowed: the read-only transaction and the connection user's privileges
// stay the first line. Names are compared after case folding, whatever the
// schema they are qualified with.

export interface RefusedGroup {
  /** Why the group is refused, as a user reads it in the error. */
  reason: string;
  names: readonly string[];
  /** Every function whose name starts with one of these. */
  prefixes: readonly string[];
}

export const refusedFunctionGroups: readonly RefusedGroup[] = [
  {
    reason: 'reads or writes files on the database server',
    names: ['pg_stat_file', 'pg_current_logfile', 'pg_logdir_ls', 'pg_import_system_collations'],
    prefixes: ['pg_read_', 'pg_ls_', 'pg_file_'],
  },
  {
    reason: 'imports, exports or changes large objects',
    names: ['lowrite', 'loread'],
    prefixes: ['lo_'],
  },
  {
    reason: 'changes server or session configuration',
    names: ['set_config', 'pg_reload_conf'],
    prefixes: [],
  },
  {
    reason: 'signals or stops other server processes',
    names: [
      'pg_cancel_backend',
      'pg_terminate_backend',
      'pg_rotate_logfile',
      'pg_log_backend_memory_contexts',
      'pg_log_standby_snapshot',
      'pg_promote',
    ],
    prefixes: [],
  },
  {
    reason: 'controls backups, the write-ahead log or recovery',
    names: ['pg_create_restore_point', 'pg_switch_wal'],
    prefixes: ['pg_backup_', 'pg_wal_replay_'],
  },
  {
    reason: 'creates, drops or reads replication slots and origins',
    names: [],
    prefixes: ['pg_create_', 'pg_drop_', 'pg_copy_', 'pg_logical_', 'pg_replication_', 'pg_sync_'],
  },
  {
    reason: 'takes advisory locks, which can outlive the query on a pooled connection',
    names: [],
    prefixes: ['pg_advisory_', 'pg_try_advisory_'],
  },
  {
    reason: 'changes a sequence',
    names: ['nextval', 'setval'],
    prefixes: [],
  },
  {
    reason: 'changes or resets statistics',
    names: [],
    prefixes: ['pg_stat_reset', 'pg_restore_', 'pg_clear_', 'pg_set_'],
  },
  {
    reason: 'maintains indexes',
    names: [
      'brin_summarize_new_values',
      'brin_summarize_range',
      'brin_desummarize_range',
      'gin_clean_pending_list',
    ],
    prefixes: [],
  },
  {
    reason: 'sends notifications',
    names: ['pg_notify'],
    prefixes: [],
  },
  {
    reason: 'stalls the connection',
    names: ['pg_sleep', 'pg_sleep_for', 'pg_sleep_until'],
    prefixes: [],
  },
  {
    reason: 'runs SQL given as text, which Ferry cannot check',
    names: ['ts_stat', 'ts_rewrite'],
    prefixes: ['query_to_xml', 'cursor_to_xml', 'dblink'],
  },
];

const byName = new Map<string, string>();
for (const g of refusedFunctionGroups) for (const n of g.names) byName.set(n, g.reason);
const byPrefix = refusedFunctionGroups.flatMap((g) => g.prefixes.map((p) => [p, g.reason] as const));

/** Why a function may not be called, or null when it may. */
export function refusedFunctionReason(name: string): string | null {
  const n = name.toLowerCase();
  const exact = byName.get(n);
  if (exact) return exact;
  for (const [prefix, reason] of byPrefix) if (n.startsWith(prefix)) return reason;
  return null;
}
