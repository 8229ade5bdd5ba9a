-- The rewards ledger, the same table as on PostGIS.
create table reward_ledger (
    case_id   text primary key references reports (case_id),
    resident  text not null references principals (id),
    category  text not null,
    at        text not null,
    day       text not null,
    points    integer not null check (points >= 0),
    cash_fen  integer not null check (cash_fen >= 0)
);
create index reward_ledger_resident_idx on reward_ledger (resident, day);
