import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CompiledTiming } from './occurrences.ts';
import { MAX_RECORDED_MISSED, planSchedule, type ScheduleState } from './plan.ts';
import { compileDefinition } from './timing.ts';

// Every missed-run policy against both overlap policies, busy or not, for the same
// downtime: an hourly schedule down from 09:59 to 13:00:30, so 10:00, 11:00 and 12:00
// were missed and 13:00 is due now (30 s old). The occurrence due now must never be
// lost to its own catch-up (S1), and on-time occurrences still obey S2.

const hourly = compileDefinition(
  { cron: '0 * * * *', time_zone: 'UTC', calendar: null, day_rule: null },
  new Date('2026-06-01T00:00:00Z'),
);
const hhmm = (d: Date) => d.toISOString().slice(11, 16);

function plan(state: Partial<ScheduleState>, now = '2026-06-01T13:00:30Z') {
  const p = planSchedule(
    {
      nextRunAt: new Date('2026-06-01T10:00:00Z'),
      backlog: [],
      missedPolicy: 'latest',
      missedCap: 100,
      overlapPolicy: 'skip',
      busy: false,
      ...state,
    },
    hourly,
    new Date(now),
  );
  return {
    runs: p.runs.map((r) => `${hhmm(r.scheduledFor)} ${r.status}`),
    backlog: p.backlog.map(hhmm),
    next: p.nextRunAt && hhmm(p.nextRunAt),
  };
}

const missed3 = ['10:00 skipped_missed', '11:00 skipped_missed', '12:00 skipped_missed'];

describe('plan: a catch-up after downtime (S1) and overlap (S2)', () => {
  for (const overlapPolicy of ['skip', 'queue_one'] as const) {
    test(`S1 all (overlap ${overlapPolicy}): the missed occurrences and the one due now all run, one at a time`, () => {
      assert.deepEqual(plan({ missedPolicy: 'all', overlapPolicy }), {
        runs: ['10:00 queued'],
        backlog: ['11:00', '12:00', '13:00'],
        next: '14:00',
      });
    });

    test(`S1 all (overlap ${overlapPolicy}) while a run is still active: all four wait`, () => {
      assert.deepEqual(plan({ missedPolicy: 'all', overlapPolicy, busy: true }).backlog, [
        '10:00',
        '11:00',
        '12:00',
        '13:00',
      ]);
    });

    test(`S1 all capped at 2 (overlap ${overlapPolicy}): the newest two run, the one due now included`, () => {
      assert.deepEqual(plan({ missedPolicy: 'all', missedCap: 2, overlapPolicy }), {
        runs: ['10:00 skipped_missed', '11:00 skipped_missed', '12:00 queued'],
        backlog: ['13:00'],
        next: '14:00',
      });
    });

    test(`S1 latest and skip (overlap ${overlapPolicy}): the occurrence due now runs, the missed ones do not`, () => {
      for (const missedPolicy of ['latest', 'skip'] as const)
        assert.deepEqual(plan({ missedPolicy, overlapPolicy }), {
          runs: [...missed3, '13:00 queued'],
          backlog: [],
          next: '14:00',
        });
    });
  }

  test('S1 skip: an occurrence more than a minute late was missed too', () => {
    assert.deepEqual(plan({ missedPolicy: 'skip' }, '2026-06-01T13:01:30Z').runs, [
      ...missed3,
      '13:00 skipped_missed',
    ]);
  });

  test('S1 latest while a run is active: the occurrence due now is an overlap (S2), or waits with queue_one', () => {
    assert.deepEqual(plan({ busy: true }).runs, [...missed3, '13:00 skipped_overlap']);
    assert.deepEqual(plan({ busy: true, overlapPolicy: 'queue_one' }), {
      runs: missed3,
      backlog: ['13:00'],
      next: '14:00',
    });
  });

  test('S1 all capped, with an occurrence already waiting: the cap keeps the newest, the oldest waiting gives way', () => {
    const p = plan({
      missedPolicy: 'all',
      missedCap: 2,
      overlapPolicy: 'queue_one',
      busy: true,
      backlog: [new Date('2026-06-01T09:00:00Z')],
    });
    assert.deepEqual(p.runs, ['10:00 skipped_missed', '11:00 skipped_missed', '09:00 skipped_overlap']);
    assert.deepEqual(p.backlog, ['12:00', '13:00']);
  });

  test('S2 on time (no downtime) with all: an occurrence due while a run is active is an overlap', () => {
    const onTime = { nextRunAt: new Date('2026-06-01T13:00:00Z'), missedPolicy: 'all' as const, busy: true };
    assert.deepEqual(plan(onTime).runs, ['13:00 skipped_overlap']);
    assert.deepEqual(plan({ ...onTime, overlapPolicy: 'queue_one' }).backlog, ['13:00']);
    assert.deepEqual(
      plan({ ...onTime, overlapPolicy: 'queue_one', backlog: [new Date('2026-06-01T12:00:00Z')] }),
      {
        runs: ['13:00 skipped_overlap'],
        backlog: ['12:00'],
        next: '14:00',
      },
    );
  });
});

describe('plan: a long outage (S1) lists the newest occurrences without walking every one', () => {
  /** Every occurrence from `first` to `now`, one nextAfter at a time (the plain walk). */
  function everyOccurrence(timing: CompiledTiming, first: Date, now: Date): Date[] {
    const all: Date[] = [];
    for (let at: Date | null = first; at && at <= now; at = timing.nextAfter(at)) all.push(at);
    return all;
  }

  /** Plans `timing` down from `first` to `now` under `latest`, counting the nextAfter calls it makes. */
  function planCounted(timing: CompiledTiming, first: Date, now: Date) {
    let calls = 0;
    const counted: CompiledTiming = {
      ...timing,
      nextAfter: (after) => {
        calls++;
        return timing.nextAfter(after);
      },
    };
    const state: ScheduleState = {
      nextRunAt: first,
      backlog: [],
      missedPolicy: 'latest',
      missedCap: 100,
      overlapPolicy: 'skip',
      busy: false,
    };
    return { plan: planSchedule(state, counted, now), calls: () => calls };
  }

  test('S1 every minute, down three months: the newest 1,000 occurrences, the first naming when the unlisted ones began', () => {
    const everyMinute = compileDefinition(
      { cron: '* * * * *', time_zone: 'UTC', calendar: null, day_rule: null },
      new Date('2026-06-08T00:00:00Z'),
    );
    const first = new Date('2026-06-08T01:01:00Z');
    const now = new Date('2026-09-01T03:00:01Z');
    const { plan: p, calls } = planCounted(everyMinute, first, now);
    // The newest minute runs; the 999 before it are recorded missed, minute by minute.
    const expected = Array.from({ length: MAX_RECORDED_MISSED }, (_, i) =>
      new Date(Date.parse('2026-09-01T03:00:00Z') - (MAX_RECORDED_MISSED - 1 - i) * 60_000).toISOString(),
    );
    assert.deepEqual(
      p.runs.map((r) => r.scheduledFor.toISOString()),
      expected,
    );
    assert.deepEqual(
      p.runs.map((r) => r.status),
      [...Array<string>(MAX_RECORDED_MISSED - 1).fill('skipped_missed'), 'queued'],
    );
    assert.match(p.runs[0]!.reason!, /and every earlier one since 2026-06-08T01:01:00.000Z, not listed/);
    assert.equal(p.runs[1]!.reason!.includes('not listed'), false);
    assert.equal(p.nextRunAt?.toISOString(), '2026-09-01T03:01:00.000Z');
    // 121,920 occurrences were due; little more than the listed ones were looked at.
    assert.ok(calls() < 1.5 * MAX_RECORDED_MISSED, `${calls()} nextAfter calls`);
  });

  test('S1 uneven occurrences (weekday office hours, business days in Berlin), down a year: the same as walking every one', () => {
    const officeHours = compileDefinition(
      { cron: '0,30 9-17 * * 1-5', time_zone: 'Europe/Berlin', calendar: { country: 'DE' }, day_rule: null },
      new Date('2025-03-01T00:00:00Z'),
    );
    const first = officeHours.nextAfter(new Date('2025-03-01T00:00:00Z'))!;
    const now = new Date('2026-03-29T12:00:00Z');
    const all = everyOccurrence(officeHours, first, now);
    assert.ok(all.length > 3 * MAX_RECORDED_MISSED, `${all.length} occurrences`);
    const { plan: p, calls } = planCounted(officeHours, first, now);
    assert.deepEqual(
      p.runs.map((r) => r.scheduledFor.toISOString()),
      all.slice(-MAX_RECORDED_MISSED).map((d) => d.toISOString()),
    );
    assert.equal(p.nextRunAt?.toISOString(), officeHours.nextAfter(all.at(-1)!)?.toISOString());
    assert.ok(calls() < all.length, `${calls()} nextAfter calls for ${all.length} occurrences`);
  });

  test('S1 outages around the list size, in zones with DST: the plan lists what walking every occurrence lists', () => {
    const cases = [
      // [cron, zone, occurrences due]: below, at, just above and well above the list size.
      ['0 * * * *', 'Europe/Berlin', 2_042],
      ['*/5 * * * *', 'America/New_York', 1_250],
      ['15 */2 * * *', 'Australia/Lord_Howe', 2_500],
      ['* * * * *', 'UTC', 999],
      ['30 2 * * *', 'Europe/Berlin', 1_400],
    ] as const;
    for (const [cron, zone, count] of cases) {
      const timing = compileDefinition(
        { cron, time_zone: zone, calendar: null, day_rule: null },
        new Date('2025-01-01T00:00:00Z'),
      );
      // Every occurrence, walked one by one: the first `count` after the start.
      const all = timing.upcoming(new Date('2025-01-01T00:00:00Z'), count);
      const first = all[0]!;
      const now = new Date(all.at(-1)!.getTime() + 1000);
      const { plan: p, calls } = planCounted(timing, first, now);
      const label = `${cron} in ${zone}, ${count} due`;
      assert.deepEqual(
        p.runs.map((r) => r.scheduledFor.toISOString()),
        all.slice(-MAX_RECORDED_MISSED).map((d) => d.toISOString()),
        label,
      );
      assert.equal(p.runs[0]!.reason?.includes('not listed') ?? false, count > MAX_RECORDED_MISSED, label);
      assert.equal(p.nextRunAt?.toISOString(), timing.nextAfter(all.at(-1)!)?.toISOString(), label);
      assert.ok(
        calls() <= Math.min(count, 1.3 * MAX_RECORDED_MISSED) + 2,
        `${label}: ${calls()} nextAfter calls`,
      );
    }
  });

  test('S1 exactly 1,000 due occurrences are all listed; 1,001 leave the oldest unlisted', () => {
    const everyMinute = compileDefinition(
      { cron: '* * * * *', time_zone: 'UTC', calendar: null, day_rule: null },
      new Date('2026-06-01T00:00:00Z'),
    );
    const first = new Date('2026-06-01T00:00:00Z');
    const at = (minutes: number) => new Date(first.getTime() + minutes * 60_000 + 1000);
    const listed = planCounted(everyMinute, first, at(MAX_RECORDED_MISSED - 1)).plan;
    assert.equal(listed.runs.length, MAX_RECORDED_MISSED);
    assert.equal(listed.runs[0]!.scheduledFor.toISOString(), first.toISOString());
    assert.ok(listed.runs.every((r) => !r.reason?.includes('not listed')));
    const one = planCounted(everyMinute, first, at(MAX_RECORDED_MISSED)).plan;
    assert.equal(one.runs.length, MAX_RECORDED_MISSED);
    assert.equal(one.runs[0]!.scheduledFor.toISOString(), '2026-06-01T00:01:00.000Z');
    assert.match(one.runs[0]!.reason!, /since 2026-06-01T00:00:00.000Z, not listed/);
  });
});
