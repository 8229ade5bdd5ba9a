-- The living demo (issue 11): principals and reports that `serve --demo` generates are
-- marked synthetic, like the demo's units below district level, so that no one mistakes
-- them for real people or real reports, and so that demo sign-in hands out tokens for
-- synthetic principals only.
alter table principals add column synthetic boolean not null default false;
alter table reports add column synthetic boolean not null default false;
