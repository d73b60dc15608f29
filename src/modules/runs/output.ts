import { DEFAULT_FILE_NAME, renderFileName } from '../../engine/formats/file-name.ts';
import { compressionOf } from '../../engine/formats/registry.ts';
import type { RunRow } from './repo.ts';

// Where an attempt's file goes and what it is called: the name from the run's
// template, the compression wrapped around it, and a storage key of its own.

export interface OutputPlan {
  /** The name the file is downloaded and delivered as (with .gz or .zip when compressed). */
  fileName: string;
  contentType: string;
  compression: { kind: 'none' } | { kind: 'gzip' } | { kind: 'zip'; entryName: string };
  /** `<tenant>/<run>/<attempt>/<file name>`. */
  key: string;
}

/** Where an attempt's files live: `<tenant>/<run>/<attempt>/` (S10: an attempt only ever touches its own). */
export const attemptPrefix = (run: { tenant_id: string; id: string }, attempt: number) =>
  `${run.tenant_id}/${run.id}/${attempt}/`;

export function planOutput(
  run: RunRow,
  attempt: number,
  format: { extension: string; contentType: string; fileName?: string | undefined },
): OutputPlan {
  const fileName = renderFileName(
    (run.format_options['fileName'] as string | undefined) ?? format.fileName ?? DEFAULT_FILE_NAME,
    {
      report: run.report_name,
      runId: run.id,
      ext: format.extension,
      at: run.scheduled_for ?? run.created_at,
      timeZone: run.time_zone,
      recipient: run.recipient,
    },
  );
  const compression = compressionOf(run.format_options);
  const wrapped =
    compression === 'gzip'
      ? {
          fileName: `${fileName}.gz`,
          contentType: 'application/gzip',
          compression: { kind: 'gzip' as const },
        }
      : compression === 'zip'
        ? {
            fileName: `${fileName}.zip`,
            contentType: 'application/zip',
            compression: { kind: 'zip' as const, entryName: fileName },
          }
        : { fileName, contentType: format.contentType, compression: { kind: 'none' as const } };
  // Keyed by run and attempt: an attempt can only ever touch its own file, so a
  // stale attempt cleaning up after itself never removes the published one.
  return { ...wrapped, key: `${attemptPrefix(run, attempt)}${wrapped.fileName}` };
}
