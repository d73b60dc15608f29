-- Data sources and reports.

CREATE TABLE connections (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  type text NOT NULL CHECK (type IN ('demo', 'postgres', 'mysql', 'sqlite')),
  -- Everything but the secret: host, port, database, user, ssl, path.
  config jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- AES-256-GCM sealed JSON ({password} or {url}), bound to the connection id.
  secret text,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX connections_tenant_id_key ON connections (tenant_id, id);
-- One demo connection per tenant.
CREATE UNIQUE INDEX connections_one_demo_idx ON connections (tenant_id) WHERE type = 'demo';

CREATE TABLE reports (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  connection_id uuid NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '',
  sql text,
  spec jsonb,
  parameters jsonb NOT NULL DEFAULT '[]'::jsonb,
  template_key text,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((sql IS NULL) <> (spec IS NULL)),
  -- A report can only point at a connection of its own tenant.
  FOREIGN KEY (tenant_id, connection_id) REFERENCES connections (tenant_id, id)
);
CREATE INDEX reports_tenant_idx ON reports (tenant_id, id);
CREATE INDEX reports_connection_idx ON reports (connection_id);

-- Existing tenants get their demo connection.
INSERT INTO connections (id, tenant_id, name, type)
SELECT gen_random_uuid(), t.id, 'Demo data', 'demo' FROM tenants t;
