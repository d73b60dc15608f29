-- Idempotency records belong to the caller that made the request ('user:<id>'
-- for a signed-in user, 'api_key:<id>' for a key), not to the whole tenant, and
-- remember the access the caller had then (role, instance admin), so a stored
-- answer is replayed only to the same caller with the same access. Rows written
-- before this migration have no known caller: they get 'legacy', which matches
-- no caller, so they are never replayed and expire within a day.
ALTER TABLE idempotency_keys
  ADD COLUMN principal text NOT NULL DEFAULT 'legacy',
  ADD COLUMN principal_access text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys
  ALTER COLUMN principal DROP DEFAULT,
  ALTER COLUMN principal_access DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (tenant_id, principal, key);

-- Consecutive failed sign-ins per account, shared by every API process. The
-- account is the lower-cased e-mail as typed, whether or not it exists (so the
-- answer does not reveal which do). scope '*' counts attempts from anywhere;
-- 'ip:<address>' counts those from an address the account signed in from
-- before (last_success_at), so strangers cannot lock the owner out. After a few
-- failures the next attempt must wait until locked_until (a growing, capped delay).
CREATE TABLE login_throttle (
  email text NOT NULL,
  scope text NOT NULL,
  failures int NOT NULL DEFAULT 0,
  last_failed_at timestamptz,
  locked_until timestamptz,
  last_success_at timestamptz,
  PRIMARY KEY (email, scope)
);
