-- Principals and their hashed bearer tokens; the same tables as on PostGIS.
create table principals (
    id          text primary key,
    role        text not null check (role in
                    ('resident', 'grid_worker', 'handler', 'dispatcher', 'leader', 'planner', 'admin')),
    -- The unit (handlers, grid workers) or department (handlers) whose cases this principal
    -- works on; null for roles that see the whole deployment.
    unit        text,
    name        text,
    -- Residents: the normalised mobile number they registered with. Never returned by the
    -- API except as the reporter's contact to the unit handling their case.
    phone       text unique,
    created_at  text not null
);
create table tokens (
    token_sha256  text primary key,
    principal     text not null references principals (id),
    created_at    text not null,
    revoked_at    text
);
create index tokens_principal_idx on tokens (principal);
