-- Invitations: adding a member no longer adds an account directly. The invitee
-- receives a single-use token (only its SHA-256 is stored) bound to the e-mail
-- address, and joins when they accept it: an existing account proves it is
-- theirs (signed in, or its password), a new one chooses its own password.
-- Accepted and revoked rows are kept for the record; at most one invitation per
-- address and tenant is open at a time (a new one supersedes it).

CREATE TABLE invitations (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
  -- A display name the inviter suggested for a new account.
  name text NOT NULL DEFAULT '',
  token_hash text NOT NULL UNIQUE,
  -- Who invited: the acting user (the creator, for an API key) and the key if
  -- one was used. Checked again at acceptance: an inviter who has since left,
  -- lost the rights to grant the role, or whose key was revoked, no longer
  -- vouches for the invitation.
  invited_by_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  invited_by_api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL,
  invited_by_label text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  accepted_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  revoked_at timestamptz,
  revoked_reason text CHECK (revoked_reason IN ('revoked', 'superseded', 'too_many_attempts')),
  -- Wrong passwords given for the invited account; the invitation is revoked at a limit.
  failed_attempts int NOT NULL DEFAULT 0,
  email_status text NOT NULL DEFAULT 'pending'
    CHECK (email_status IN ('pending', 'sent', 'failed', 'not_configured')),
  email_error text,
  CHECK (accepted_at IS NULL OR revoked_at IS NULL),
  CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX invitations_tenant_idx ON invitations (tenant_id, id);
CREATE UNIQUE INDEX invitations_open_email_key ON invitations (tenant_id, lower(email))
  WHERE accepted_at IS NULL AND revoked_at IS NULL;
