-- What an export had to change in values its format cannot carry (a character
-- XML 1.0 or a font cannot show), counted per kind: shown with the run, never silent.
ALTER TABLE runs ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]'::jsonb;
