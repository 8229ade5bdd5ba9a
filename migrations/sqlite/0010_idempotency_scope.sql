-- Idempotency keys belong to the caller that sent them (issue 8, item 2): a key is unique
-- per (scope, key), the scope being `principal:<id>` or, for anonymous callers,
-- `address:<ip>`. Keys stored before had no scope; they get `unscoped`, which no caller
-- has, so they no longer replay (a retry after the upgrade makes a new case).
create table idempotency_keys_scoped (
    scope         text not null,
    key           text not null,
    request_hash  text not null,
    case_id       text not null references reports (case_id),
    created_at    text not null,
    primary key (scope, key)
);
insert into idempotency_keys_scoped (scope, key, request_hash, case_id, created_at)
    select 'unscoped', key, request_hash, case_id, created_at from idempotency_keys;
drop table idempotency_keys;
alter table idempotency_keys_scoped rename to idempotency_keys;
