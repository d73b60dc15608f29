import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { DeliveryContext, DeliveryFile } from '../../src/delivery/types.ts';

// What a delivery channel is told about a run, for the channels' own tests:
// one base, and the variants several tests share (a run late at night UTC that
// is already the next day in Berlin; a Monday-morning schedule with a link).

const base: DeliveryContext = {
  tenantName: 'Acme',
  runId: 'run-1',
  status: 'succeeded',
  error: null,
  reportName: 'Sales',
  scheduleName: 'Daily',
  scheduleId: 's1',
  runAt: new Date('2026-03-02T07:00:00Z'),
  finishedAt: new Date('2026-03-02T07:00:05Z'),
  timeZone: 'UTC',
  rowCount: 3,
  format: 'csv',
  link: null,
  deliveryId: 'd1',
  attempt: 1,
};

/** 23:30 UTC on 1 March is already 2 March in Berlin (UTC+1); 12,345 rows and a link valid a week. */
export const lateEveningInBerlin = (linkUrl: string): Partial<DeliveryContext> => ({
  runId: 'run_1',
  scheduleName: 'Every morning',
  scheduleId: 'sch_1',
  runAt: new Date('2026-03-01T23:30:00Z'),
  finishedAt: new Date('2026-03-01T23:31:00Z'),
  timeZone: 'Europe/Berlin',
  rowCount: 12_345,
  link: { url: linkUrl, expiresAt: new Date('2026-03-08T23:30:00Z') },
  deliveryId: 'del_1',
});

/** A Monday 08:00 Berlin schedule's run with a link valid an hour. */
export const mondayMorningInBerlin: Partial<DeliveryContext> = {
  runId: 'run_01',
  reportName: 'Sales by region',
  scheduleName: 'Monday morning',
  scheduleId: 'sch_01',
  runAt: new Date('2026-05-04T06:00:00Z'),
  finishedAt: new Date('2026-05-04T06:00:07Z'),
  timeZone: 'Europe/Berlin',
  rowCount: 1234,
  link: { url: 'https://ferry.example/d/abc', expiresAt: new Date('2026-05-04T07:00:07Z') },
  deliveryId: 'dlv_01',
};

export function deliveryContext(...overrides: Array<Partial<DeliveryContext>>): DeliveryContext {
  return Object.assign({ ...base }, ...overrides);
}

/** A run's file from bytes, streamed in 64 KiB chunks and opened afresh each time, like a stored artifact. */
export function deliveryFile(bytes: Buffer, fileName = 'sales.csv', contentType = 'text/csv'): DeliveryFile {
  return {
    fileName,
    contentType,
    size: bytes.length,
    checksum: createHash('sha256').update(bytes).digest('hex'),
    open: async () =>
      Readable.from(
        Array.from({ length: Math.ceil(bytes.length / 65_536) }, (_, i) =>
          bytes.subarray(i * 65_536, (i + 1) * 65_536),
        ),
      ),
  };
}
