-- Counters for /metrics: every run that ended, by status and format, with the
-- rows and bytes it wrote and how long it took. Kept by a trigger, so every
-- process that ends a run (workers, the scheduler's skips, cancels) counts it
-- once, and the totals only grow: retention deleting old runs takes nothing away.
CREATE TABLE run_totals (
  status text NOT NULL,
  format text NOT NULL,
  runs bigint NOT NULL DEFAULT 0,
  rows_written bigint NOT NULL DEFAULT 0,
  bytes_written bigint NOT NULL DEFAULT 0,
  -- Runs that started and ended: the duration histogram's count, sum and buckets
  -- (upper bounds 1, 5, 15, 60, 300, 900, 3600 seconds, then +Inf; not cumulative).
  timed bigint NOT NULL DEFAULT 0,
  duration_seconds double precision NOT NULL DEFAULT 0,
  duration_buckets bigint[] NOT NULL DEFAULT '{0,0,0,0,0,0,0,0}',
  PRIMARY KEY (status, format)
);

CREATE FUNCTION ferry_count_ended_run() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ended constant text[] := ARRAY['succeeded', 'failed', 'cancelled', 'skipped_missed', 'skipped_overlap', 'skipped_condition'];
  bounds constant double precision[] := ARRAY[1, 5, 15, 60, 300, 900, 3600];
  seconds double precision;
  bucket int;
  buckets bigint[] := '{0,0,0,0,0,0,0,0}';
BEGIN
  IF NOT (NEW.status = ANY (ended)) THEN RETURN NULL; END IF;
  IF TG_OP = 'UPDATE' AND OLD.status = ANY (ended) THEN RETURN NULL; END IF;
  IF NEW.started_at IS NOT NULL AND NEW.finished_at IS NOT NULL THEN
    seconds := greatest(0, extract(epoch FROM NEW.finished_at - NEW.started_at));
    bucket := 8;
    FOR i IN 1..7 LOOP
      IF seconds <= bounds[i] THEN bucket := i; EXIT; END IF;
    END LOOP;
    buckets[bucket] := 1;
  END IF;
  INSERT INTO run_totals AS t (status, format, runs, rows_written, bytes_written, timed, duration_seconds, duration_buckets)
  VALUES (NEW.status, NEW.format, 1, coalesce(NEW.row_count, 0), coalesce(NEW.file_size, 0),
          CASE WHEN seconds IS NULL THEN 0 ELSE 1 END, coalesce(seconds, 0), buckets)
  ON CONFLICT (status, format) DO UPDATE SET
    runs = t.runs + 1,
    rows_written = t.rows_written + excluded.rows_written,
    bytes_written = t.bytes_written + excluded.bytes_written,
    timed = t.timed + excluded.timed,
    duration_seconds = t.duration_seconds + excluded.duration_seconds,
    duration_buckets = ARRAY(SELECT a + b FROM unnest(t.duration_buckets, excluded.duration_buckets) AS u(a, b));
  RETURN NULL;
END $$;

CREATE TRIGGER runs_count_ended AFTER INSERT OR UPDATE OF status ON runs
  FOR EACH ROW EXECUTE FUNCTION ferry_count_ended_run();
