-- The plan library's revisions, the same table as on PostGIS.
create table plan_revisions (
    revision    integer primary key check (revision > 0),
    rules       text not null,
    created_at  text not null,
    author      text not null
);
