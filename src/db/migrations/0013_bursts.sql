-- Bursting (issue 17, part 12): a schedule may have a recipients query; each of
-- its rows (an e-mail address and parameter values) gets the report run with its
-- own parameters, as separate runs grouped under the run that read the query.
ALTER TABLE schedules
  ADD COLUMN recipients_sql text CHECK (recipients_sql IS NULL OR length(recipients_sql) BETWEEN 1 AND 20000);

ALTER TABLE runs
  -- On the run that reads the recipients (the burst's lead): its query, as the schedule had it.
  ADD COLUMN recipients_sql text,
  -- On each recipient's run: the lead that made it, and to whom its file goes.
  ADD COLUMN burst_id uuid REFERENCES runs (id) ON DELETE SET NULL,
  ADD COLUMN recipient text,
  -- On the lead: how many recipients' runs it made.
  ADD COLUMN burst_size int;

-- One run per occurrence and one active run per schedule still hold for every
-- run but a recipient's: those share their lead's occurrence and run side by side
-- (keyed on recipient, which stays when an old lead is deleted and burst_id is nulled).
ALTER TABLE runs DROP CONSTRAINT runs_schedule_occurrence_key;
CREATE UNIQUE INDEX runs_schedule_occurrence_key ON runs (schedule_id, scheduled_for) WHERE recipient IS NULL;
DROP INDEX runs_one_active_per_schedule;
CREATE UNIQUE INDEX runs_one_active_per_schedule ON runs (schedule_id)
  WHERE status IN ('queued', 'running') AND schedule_id IS NOT NULL AND recipient IS NULL;
CREATE INDEX runs_burst_idx ON runs (burst_id, created_at) WHERE burst_id IS NOT NULL;
