-- The case log: append-only events, the same table as on PostGIS.
create table case_events (
    case_id  text not null references reports (case_id),
    seq      integer not null check (seq > 0),
    at       text not null,
    actor    text not null,
    role     text not null,
    action   text not null,
    reason   text,
    payload  text,
    primary key (case_id, seq)
);
create index case_events_action_idx on case_events (action, at);
