-- Least-loaded assignment counts each candidate's open cases at every dispatch, intake's
-- auto-dispatch included (issue 9, "intake at speed"): without this index that count reads
-- the whole case index once a candidate.
create index case_index_open_assignee_idx on case_index (assignee) where clock_stopped_at is null;
