-- Export runs, their attempts, the files they produce, and every download.

CREATE UNIQUE INDEX reports_tenant_id_key ON reports (tenant_id, id);

CREATE TABLE runs (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  report_id uuid,
  schedule_id uuid,
  trigger text NOT NULL CHECK (trigger IN ('manual', 'api', 'schedule', 'cli')),
  status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped_missed', 'skipped_overlap', 'skipped_condition')),
  format text NOT NULL,
  format_options jsonb NOT NULL DEFAULT '{}'::jsonb,
  parameters jsonb NOT NULL DEFAULT '{}'::jsonb,
  time_zone text NOT NULL DEFAULT 'UTC',
  -- The report as it was when the run was created: later edits do not change a queued run.
  report_snapshot jsonb NOT NULL,
  report_name text NOT NULL,
  scheduled_for timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  attempts int NOT NULL DEFAULT 0,
  max_attempts int NOT NULL DEFAULT 3,
  -- The attempt that may write this run's result; a completion from any other is stale.
  lease_attempt_id uuid,
  heartbeat_at timestamptz,
  cancel_requested_at timestamptz,
  progress_rows bigint NOT NULL DEFAULT 0,
  progress_bytes bigint NOT NULL DEFAULT 0,
  row_count bigint,
  file_name text,
  file_size bigint,
  content_type text,
  checksum text,
  error text,
  error_code text,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  FOREIGN KEY (tenant_id, report_id) REFERENCES reports (tenant_id, id) ON DELETE SET NULL (report_id)
);
CREATE INDEX runs_tenant_created_idx ON runs (tenant_id, created_at DESC, id DESC);
CREATE INDEX runs_running_idx ON runs (heartbeat_at) WHERE status = 'running';
CREATE INDEX runs_report_idx ON runs (tenant_id, report_id);

CREATE TABLE run_attempts (
  id uuid PRIMARY KEY,
  run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  number int NOT NULL,
  worker text NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'lost', 'cancelled')),
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  error text,
  UNIQUE (run_id, number)
);

CREATE TABLE artifacts (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  run_id uuid NOT NULL UNIQUE REFERENCES runs (id) ON DELETE CASCADE,
  storage text NOT NULL,
  key text NOT NULL,
  file_name text NOT NULL,
  content_type text NOT NULL,
  size bigint NOT NULL,
  checksum text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  deleted_at timestamptz
);
CREATE INDEX artifacts_expiry_idx ON artifacts (expires_at) WHERE deleted_at IS NULL;

CREATE TABLE downloads (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  via text NOT NULL CHECK (via IN ('api', 'link')),
  actor_type text,
  actor_id uuid,
  ip text,
  user_agent text,
  range text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX downloads_run_idx ON downloads (run_id, id);
