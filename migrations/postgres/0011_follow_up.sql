-- Follow-up secrets (issue 8, item 11): each report's reporter gets one at intake (and a
-- new one with every idempotent replay), shown once; only its SHA-256 is kept. It opens
-- that case's reporter view and rating without an account.
create table follow_ups (
    secret_sha256 text primary key,
    case_id       text not null references reports (case_id),
    created_at    timestamptz not null
);
create index follow_ups_case_idx on follow_ups (case_id);
