-- citysnap schema on the embedded SQLite store: the same tables as on PostGIS, geometry as
-- GeoJSON text plus a bounding box for coarse filtering.
create table units (
    code       text primary key,
    name       text not null,
    level      text not null check (level in ('district', 'street', 'community', 'grid')),
    parent     text,
    synthetic  integer not null default 0,
    geojson    text not null,
    min_lon    real not null,
    min_lat    real not null,
    max_lon    real not null,
    max_lat    real not null
);
create index units_level_idx on units (level);

create table categories (
    code     text primary key,
    name     text not null,
    name_en  text,
    kind     text not null check (kind in ('problem', 'praise', 'consultation')),
    parent   text,
    body     text not null
);

create table case_sequences (
    day   text primary key,
    last  integer not null
);

create table reports (
    case_id          text primary key,
    created_at       text not null,
    status           text not null,
    description      text not null,
    category         text not null references categories (code),
    lon              real not null,
    lat              real not null,
    h3_r15           integer not null,
    input_datum      text not null,
    input_lon        real not null,
    input_lat        real not null,
    accuracy_m       real,
    address          text,
    contact_name     text,
    contact_phone    text,
    district_code    text,
    street_code      text,
    community_code   text,
    grid_code        text,
    units            text not null,
    snapped_m        real,
    near_boundary    text
);
create index reports_lonlat_idx on reports (lon, lat);
create index reports_created_idx on reports (created_at);
create index reports_grid_idx on reports (grid_code);

create table report_media (
    case_id       text not null references reports (case_id),
    seq           integer not null,
    kind          text not null,
    media_type    text not null,
    bytes         integer not null,
    sha256        text not null,
    storage_key   text not null,
    exif_lon      real,
    exif_lat      real,
    exif_taken_at text,
    primary key (case_id, seq)
);

create table idempotency_keys (
    key           text primary key,
    request_hash  text not null,
    case_id       text not null references reports (case_id),
    created_at    text not null
);
