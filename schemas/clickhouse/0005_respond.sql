-- The first-answer clock `respond` (首次响应) runs beside `handle`, which is
-- now the completion clock of every priority; a complaint row carries both.
ALTER TABLE complaints.complaints ADD COLUMN IF NOT EXISTS responded_at Nullable(DateTime64(3, 'UTC')) AFTER assigned_at;
ALTER TABLE complaints.complaints ADD COLUMN IF NOT EXISTS respond_sla LowCardinality(String) DEFAULT 'not_started' AFTER assign_sla;
