-- The plan library (预案库, issue 3): every revision of the ordered dispatch-rule table, never
-- overwritten, so that any recorded dispatch (rule id + version) can be read back as it was.
create table plan_revisions (
    revision    integer primary key check (revision > 0),
    rules       jsonb not null,
    created_at  timestamptz not null,
    -- Who changed it (a principal id, or `shipped` for the file the service ships with).
    author      text not null
);
