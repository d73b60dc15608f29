-- Delivery: where a run's file goes (destinations), and each run × destination
-- with its own attempts, timings, the peer's answer and the error (deliveries).
-- A run's file is made once; each destination gets it independently.
CREATE TABLE destinations (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  type text NOT NULL CHECK (type IN ('email', 'slack', 'webhook', 's3', 'sftp', 'teams')),
  -- Public settings, shown to readers; the secret ones are sealed apart (write-only).
  settings jsonb NOT NULL DEFAULT '{}',
  secret text,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_test_at timestamptz,
  last_test_ok boolean,
  last_test_message text,
  UNIQUE (tenant_id, name)
);

CREATE TABLE deliveries (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  -- Kept when the destination is deleted: the history names what it was.
  destination_id uuid REFERENCES destinations (id) ON DELETE SET NULL,
  destination_name text NOT NULL,
  destination_type text NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'sending', 'succeeded', 'failed')),
  attempts int NOT NULL DEFAULT 0,
  max_attempts int NOT NULL DEFAULT 5,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  next_attempt_at timestamptz,
  heartbeat_at timestamptz,
  -- What the peer answered: SMTP message id and recipients, HTTP status, S3 key and ETag, SFTP path.
  receipt jsonb,
  error text,
  -- The file as delivered, for the audit trail.
  file_name text,
  file_checksum text,
  UNIQUE (run_id, destination_id)
);
CREATE INDEX deliveries_run ON deliveries (run_id);
CREATE INDEX deliveries_tenant_created ON deliveries (tenant_id, created_at DESC);

-- One-off exports name their destinations on the run; scheduled runs copy the schedule's.
ALTER TABLE runs ADD COLUMN destination_ids uuid[] NOT NULL DEFAULT '{}';

-- Recipient governance: e-mail domains and webhook hosts a tenant may deliver to
-- (empty: any). A destination outside them is refused when saved and when sent.
ALTER TABLE tenants
  ADD COLUMN allowed_email_domains text[] NOT NULL DEFAULT '{}',
  ADD COLUMN allowed_webhook_hosts text[] NOT NULL DEFAULT '{}';
