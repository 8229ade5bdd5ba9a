-- Idempotency keys belong to the caller that sent them (issue 8, item 2): a key is unique
-- per (scope, key), the scope being `principal:<id>` or, for anonymous callers,
-- `address:<ip>`. Keys stored before had no scope; they get `unscoped`, which no caller
-- has, so they no longer replay (a retry after the upgrade makes a new case).
alter table idempotency_keys add column scope text not null default 'unscoped';
alter table idempotency_keys alter column scope drop default;
alter table idempotency_keys drop constraint idempotency_keys_pkey;
alter table idempotency_keys add primary key (scope, key);
