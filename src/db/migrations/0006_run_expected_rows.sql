-- Progress in percent: the row count a run expects, taken when it starts from the
-- last successful run of the same report with the same parameters and format.
ALTER TABLE runs ADD COLUMN expected_rows bigint;
CREATE INDEX runs_report_succeeded_idx ON runs (report_id, finished_at DESC) WHERE status = 'succeeded';
