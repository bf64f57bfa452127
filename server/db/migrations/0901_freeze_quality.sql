-- A daily freeze keeps its reading's quality flags (issue 21): a DL/T 698.45 freeze read
-- through an ESAM arrives flagged 'unverified' (its MAC only the utility's security module
-- can check) and must not lose that flag in the archive.
ALTER TABLE daily_freeze ADD COLUMN IF NOT EXISTS quality text[] NOT NULL DEFAULT '{}';
