-- The per-case read model, the same table as on PostGIS (see there for the columns).
create table case_index (
    case_id           text primary key references reports (case_id),
    last_seq          integer not null,
    state             text not null,
    kind              text not null,
    category          text not null,
    reporter          text not null,
    target            text,
    assignee          text,
    deadline_at       text,
    red_at            text,
    clock_stopped_at  text,
    escalated_yellow  boolean not null,
    escalated_red     boolean not null,
    open_supervisions integer not null,
    merged_into       text,
    submitted_at      text not null,
    updated_at        text not null,
    h3_r12            integer not null,
    day               text not null,
    lon               real not null,
    lat               real not null,
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
