-- Reports aggregated per H3 cell at resolution 12, local day (YYYY-MM-DD text) and category,
-- kept up to date in the same transaction as each report insert. Same table as on PostGIS.
create table report_cells (
    cell      integer not null,
    day       text not null,
    category  text not null references categories (code),
    lon       real not null,
    lat       real not null,
    n         integer not null,
    primary key (cell, day, category)
);
create index report_cells_day_idx on report_cells (day, lon, lat);
