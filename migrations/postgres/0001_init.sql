-- citysnap schema on PostGIS: the system of record in production.
create extension if not exists postgis;

-- Units of the jurisdiction (district ⊃ street ⊃ community ⊃ grid), codes in the 15-digit
-- scheme of CJ/T 213. Geometry in WGS-84.
create table units (
    code       text primary key,
    name       text not null,
    level      text not null check (level in ('district', 'street', 'community', 'grid')),
    parent     text,
    synthetic  boolean not null default false,
    geom       geometry(MultiPolygon, 4326) not null
);
create index units_geom_idx on units using gist (geom);
create index units_level_idx on units (level);

create table categories (
    code     text primary key,
    name     text not null,
    name_en  text,
    kind     text not null check (kind in ('problem', 'praise', 'consultation')),
    parent   text,
    -- The whole category as the service understands it (fields grow with the dispatch
    -- workflow); the columns above are for SQL readers.
    body     jsonb not null
);

-- Per-day case sequence, for human-readable case ids like XL-20260315-000123.
create table case_sequences (
    day   text primary key,
    last  bigint not null
);

create table reports (
    case_id          text primary key,
    created_at       timestamptz not null,
    status           text not null,
    description      text not null,
    category         text not null references categories (code),
    lon              double precision not null,
    lat              double precision not null,
    -- Derived from lon/lat so that both backends take the same insert.
    geom             geometry(Point, 4326) generated always as (st_setsrid(st_makepoint(lon, lat), 4326)) stored,
    -- H3 cell at resolution 15; every coarser cell is a bit operation on it.
    h3_r15           bigint not null,
    input_datum      text not null,
    input_lon        double precision not null,
    input_lat        double precision not null,
    accuracy_m       double precision,
    address          text,
    contact_name     text,
    contact_phone    text,
    district_code    text,
    street_code      text,
    community_code   text,
    grid_code        text,
    -- The resolved chain as it was at intake ({level: {code, name}}).
    units            jsonb not null,
    snapped_m        double precision,
    near_boundary    jsonb
);
create index reports_geom_idx on reports using gist (geom);
create index reports_created_idx on reports (created_at);
create index reports_grid_idx on reports (grid_code);

create table report_media (
    case_id       text not null references reports (case_id),
    seq           integer not null,
    kind          text not null,
    media_type    text not null,
    bytes         bigint not null,
    sha256        text not null,
    storage_key   text not null,
    -- Location read from the photo's EXIF before it was stripped; private, for later
    -- photo-location checks.
    exif_lon      double precision,
    exif_lat      double precision,
    exif_taken_at text,
    primary key (case_id, seq)
);

create table idempotency_keys (
    key           text primary key,
    request_hash  text not null,
    case_id       text not null references reports (case_id),
    created_at    timestamptz not null
);
