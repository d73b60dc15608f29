-- Per-tenant export limits; NULL means the instance default (FERRY_MAX_EXPORT_ROWS, …).
ALTER TABLE tenants
  ADD COLUMN max_export_rows bigint CHECK (max_export_rows > 0),
  ADD COLUMN max_export_bytes bigint CHECK (max_export_bytes > 0),
  ADD COLUMN max_run_seconds int CHECK (max_run_seconds > 0);
