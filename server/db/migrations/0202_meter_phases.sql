-- Single- or three-phase: the overrun check's capacity is phases x rated voltage x current.
ALTER TABLE meters ADD COLUMN IF NOT EXISTS phases smallint NOT NULL DEFAULT 1
    CHECK (phases IN (1, 3));
