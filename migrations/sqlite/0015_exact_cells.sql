-- Exact hexagon counts (issue 10): the aggregates now hold one row per served resolution
-- (5 to 12) with each report in latLngToCell(point, res), no longer in the H3 parents of its
-- resolution-12 cell (cells do not nest). Emptied here, they count fewer reports than the
-- `reports` table holds, so the next start rebuilds both from the reports' points in one
-- transaction and logs it (`backfill_report_cells`); a rebuild is idempotent.
delete from report_cells;
delete from report_cells_coarse;
