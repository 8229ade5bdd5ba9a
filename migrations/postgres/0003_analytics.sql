-- Reports aggregated per H3 cell at resolution 12, local day and category, kept up to date
-- in the same transaction as each report insert, so that a heat-map over millions of reports
-- reads thousands of rows. Coarser resolutions are the cells' H3 parents (issue 4).
create table report_cells (
    -- H3 index at resolution 12 (always below 2^63, so it fits a signed bigint).
    cell      bigint not null,
    -- The report's calendar day in the deployment's time zone.
    day       date not null,
    category  text not null references categories (code),
    -- Centre of the cell (WGS-84), so that a bounding box filters rows in SQL.
    lon       double precision not null,
    lat       double precision not null,
    n         bigint not null,
    primary key (cell, day, category)
);
create index report_cells_day_idx on report_cells (day, lon, lat);
