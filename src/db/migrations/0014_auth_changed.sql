-- Issue 19: API processes keep the principals they authenticated (API keys and
-- sessions, with the creator's membership, the user and the tenant) in memory.
-- Any change that could make a kept principal wrong notifies `ferry_auth` when it
-- commits, whichever code or person writes it (services, the CLI, psql, cascades),
-- and every process drops what it keeps. Writes that only record use
-- (last_used_at, last_seen_at) and new rows (nothing kept can depend on a row that
-- did not exist) do not notify.
CREATE FUNCTION ferry_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ferry_auth', TG_TABLE_NAME);
  RETURN NULL;
END $$;

CREATE TRIGGER api_keys_auth_changed
  AFTER UPDATE OF tenant_id, name, key_hash, role, is_instance_admin, created_by, expires_at, revoked_at
  OR DELETE OR TRUNCATE ON api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION ferry_auth_changed();

CREATE TRIGGER sessions_auth_changed
  AFTER UPDATE OF token_hash, user_id, tenant_id, expires_at, revoked_at
  OR DELETE OR TRUNCATE ON sessions
  FOR EACH STATEMENT EXECUTE FUNCTION ferry_auth_changed();

CREATE TRIGGER memberships_auth_changed
  AFTER UPDATE OR DELETE OR TRUNCATE ON memberships
  FOR EACH STATEMENT EXECUTE FUNCTION ferry_auth_changed();

CREATE TRIGGER users_auth_changed
  AFTER UPDATE OF id, email, is_instance_admin OR DELETE OR TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION ferry_auth_changed();

CREATE TRIGGER tenants_auth_changed
  AFTER UPDATE OF id, name, slug OR DELETE OR TRUNCATE ON tenants
  FOR EACH STATEMENT EXECUTE FUNCTION ferry_auth_changed();
