-- The rewards ledger (issue 3, "Rewards"): append-only, one entry per case at most (the
-- primary key), so a replayed or concurrent award can never pay twice.
create table reward_ledger (
    case_id   text primary key references reports (case_id),
    resident  text not null references principals (id),
    category  text not null,
    at        timestamptz not null,
    -- The resident's local day, for the daily cap.
    day       date not null,
    points    integer not null check (points >= 0),
    cash_fen  integer not null check (cash_fen >= 0)
);
create index reward_ledger_resident_idx on reward_ledger (resident, day);
