-- A dead letter whose payload was longer than 64 KiB keeps the first 64 KiB;
-- these name the original: its size in bytes and its SHA-256 (hex). Both
-- are 0 / empty when the payload is whole.
ALTER TABLE complaints.dead_letters ADD COLUMN IF NOT EXISTS payload_bytes UInt64 DEFAULT 0 AFTER payload;
ALTER TABLE complaints.dead_letters ADD COLUMN IF NOT EXISTS payload_sha256 String DEFAULT '' AFTER payload_bytes;
