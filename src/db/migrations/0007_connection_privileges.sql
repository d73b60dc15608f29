-- What a connection's database user may do beyond reading, as Ferry last found
-- it: plain-language warnings, whether it is an administrator account
-- (PostgreSQL superuser; MySQL SUPER or ALL PRIVILEGES ON *.*), and when it was
-- checked (NULL: not since the settings last changed; checked on first use).
-- An administrator account is refused unless the tenant admin confirmed it
-- (allow_privileged_user).
ALTER TABLE connections
  ADD COLUMN allow_privileged_user boolean NOT NULL DEFAULT false,
  ADD COLUMN privilege_warnings jsonb NOT NULL DEFAULT '[]'::jsonb,
  ADD COLUMN privileged_user boolean NOT NULL DEFAULT false,
  ADD COLUMN privileges_checked_at timestamptz;
