import type { Secrets } from './channel.ts';
import type { DestinationRow } from './repo.ts';

/** A destination as the API shows it: settings, which secrets are set (never their values), where it is used. */
export function presentDestination(
  row: DestinationRow,
  secrets: Secrets,
  usedBy: Array<{ id: string; name: string }>,
) {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    settings: row.settings,
    secretsSet: Object.keys(secrets).sort(),
    usedBy,
    lastTest:
      row.last_test_at && row.last_test_ok !== null
        ? { at: row.last_test_at.toISOString(), ok: row.last_test_ok, message: row.last_test_message ?? '' }
        : null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
export type DestinationView = ReturnType<typeof presentDestination>;
