-- The case log (issue 3): every change of a case is an append-only event; the current
-- state is derived by folding them (src/domain/case.rs). Never updated, never deleted.
create table case_events (
    case_id  text not null references reports (case_id),
    -- 1, 2, 3 … per case: the primary key makes two concurrent appends of the same seq
    -- collide, so the loser re-reads the log and tries again (optimistic concurrency).
    seq      integer not null check (seq > 0),
    at       timestamptz not null,
    actor    text not null,
    role     text not null,
    action   text not null,
    reason   text,
    payload  jsonb,
    primary key (case_id, seq)
);
-- The deadline job and the dispatchers' views look for cases by their latest actions.
create index case_events_action_idx on case_events (action, at);
