-- Schedules (scheduling.md S1–S14) and the database clock the scheduler reads.

-- The database's notion of now. Every scheduler process reads time here, so hosts
-- whose clocks disagree still agree on what is due. The offset is zero in
-- production; tests and drills move time for every process at once by setting it.
CREATE TABLE clock_offset (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  shift interval NOT NULL DEFAULT interval '0'
);
CREATE FUNCTION ferry_now() RETURNS timestamptz LANGUAGE sql VOLATILE AS $$
  SELECT clock_timestamp() + coalesce((SELECT shift FROM clock_offset), interval '0')
$$;

CREATE TABLE schedules (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  report_id uuid NOT NULL,
  name text NOT NULL,
  parameters jsonb NOT NULL DEFAULT '{}'::jsonb,
  format text NOT NULL,
  format_options jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Five-field cron; `preset` keeps the form it was made from, for editing.
  cron text NOT NULL,
  preset jsonb,
  time_zone text NOT NULL DEFAULT 'UTC',
  -- Skip weekends and public holidays of a country/region: {country, region}.
  calendar jsonb,
  -- 'last_business_day': fire only on the last business day of the month.
  day_rule text CHECK (day_rule IN ('last_business_day')),
  condition text NOT NULL DEFAULT 'always' CHECK (condition IN ('always', 'has_rows', 'changed')),
  missed_policy text NOT NULL DEFAULT 'latest' CHECK (missed_policy IN ('latest', 'all', 'skip')),
  missed_cap int NOT NULL DEFAULT 100 CHECK (missed_cap BETWEEN 1 AND 1000),
  overlap_policy text NOT NULL DEFAULT 'skip' CHECK (overlap_policy IN ('skip', 'queue_one')),
  destination_ids uuid[] NOT NULL DEFAULT '{}',
  active boolean NOT NULL DEFAULT true,
  -- The next occurrence (UTC instant), always computed forward from the previous one.
  next_run_at timestamptz,
  -- Occurrences waiting for the active run to finish (queue_one, or missed runs under 'all'), oldest first.
  backlog timestamptz[] NOT NULL DEFAULT '{}',
  notify_emails text[] NOT NULL DEFAULT '{}',
  pause_after_failures int NOT NULL DEFAULT 5 CHECK (pause_after_failures BETWEEN 0 AND 100),
  consecutive_failures int NOT NULL DEFAULT 0,
  paused_reason text,
  owner_id uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, report_id) REFERENCES reports (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX schedules_tenant_id_key ON schedules (tenant_id, id);
CREATE INDEX schedules_tenant_created_idx ON schedules (tenant_id, created_at DESC, id DESC);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE active;
CREATE INDEX schedules_backlog_idx ON schedules (id) WHERE cardinality(backlog) > 0;

-- S4: one run per occurrence. S2: at most one queued-or-running run per schedule.
ALTER TABLE runs
  ADD COLUMN condition text NOT NULL DEFAULT 'always' CHECK (condition IN ('always', 'has_rows', 'changed')),
  -- SHA-256 of the result's rows (not of the file, whose packaging can carry a timestamp): 'changed' compares it.
  ADD COLUMN data_checksum text,
  ADD CONSTRAINT runs_schedule_fkey FOREIGN KEY (schedule_id) REFERENCES schedules (id) ON DELETE SET NULL,
  ADD CONSTRAINT runs_schedule_occurrence_key UNIQUE (schedule_id, scheduled_for);
CREATE UNIQUE INDEX runs_one_active_per_schedule ON runs (schedule_id)
  WHERE status IN ('queued', 'running') AND schedule_id IS NOT NULL;
CREATE INDEX runs_schedule_created_idx ON runs (schedule_id, created_at DESC) WHERE schedule_id IS NOT NULL;
CREATE INDEX runs_tenant_queued_idx ON runs (tenant_id) WHERE status = 'queued';
-- S13: retention deletes finished runs by age.
CREATE INDEX runs_finished_idx ON runs (finished_at) WHERE finished_at IS NOT NULL;
