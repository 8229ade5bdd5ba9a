-- The per-case read model (issue 3): what the case log folds to, one row per case, rewritten
-- in the same transaction as every event append. Never the source of truth (the events are):
-- it answers lists, filters, the deadline job and filtered heat-maps without folding every log.
create table case_index (
    case_id           text primary key references reports (case_id),
    -- Number of the last event folded into this row.
    last_seq          integer not null,
    state             text not null,
    kind              text not null,
    category          text not null,
    -- Who reported it (a resident id, or `anonymous`).
    reporter          text not null,
    -- The current (or last) dispatch target: a unit code (digits) or a department code.
    target            text,
    assignee          text,
    deadline_at       timestamptz,
    -- When the case turns red: the deadline plus the red margin on its calendar.
    red_at            timestamptz,
    -- When the deadline clock stopped (closed, parked, merged …); null while it runs.
    clock_stopped_at  timestamptz,
    escalated_yellow  boolean not null,
    escalated_red     boolean not null,
    open_supervisions integer not null,
    merged_into       text,
    submitted_at      timestamptz not null,
    updated_at        timestamptz not null,
    -- Where, copied from the report so filters need no join: H3 resolution 12 (the heat-map
    -- aggregate's cells), the local day, WGS-84 position and the resolved unit codes.
    h3_r12            bigint not null,
    day               date not null,
    lon               double precision not null,
    lat               double precision not null,
    district          text,
    street            text,
    community         text,
    grid              text
);
create index case_index_state_idx on case_index (state);
create index case_index_target_idx on case_index (target);
create index case_index_reporter_idx on case_index (reporter);
create index case_index_deadline_idx on case_index (deadline_at) where clock_stopped_at is null;
create index case_index_day_idx on case_index (day, h3_r12);
create index case_index_grid_idx on case_index (grid);
