-- A coarse copy of the heat-map aggregate for city-scale maps (issue 4): reports per H3
-- cell at resolution 8 (about 0.74 km²), calendar month (YYYY-MM, local) and major category
-- (the category code's first two digits). Kept in the same transaction as report_cells;
-- a zoomed-out tile reads thousands of these rows instead of hundreds of thousands.
create table report_cells_coarse (
    cell   bigint not null,
    month  text not null,
    major  text not null,
    n      bigint not null,
    primary key (cell, month, major)
);
