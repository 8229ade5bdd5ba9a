//! What a caller may see of the analytics (issue 8, items 5 and 6): heat-maps, hotspots and
//! tiles are the only reads open to everyone, so they are where personal data could leak.
//!
//! - The **public** (anonymous callers, residents, and unit staff, whose case access is
//!   scoped) sees k-anonymous aggregates: a published count holds at least `k` reports
//!   (`ApiSettings::tile_min_count`, default 3, the same k as the public tiles); smaller
//!   counts are left out (a hexagon) or `null` (a value inside a feature). Gi* z-scores and
//!   their p-values are not shown to the public: with every cell's z and the study-wide
//!   figures, the k-ring sums can be solved back to each cell's count; the public sees the
//!   significance bin (−3…3) only.
//! - **Planners** see aggregates only, all of them: every count, z-scores and p-values, but
//!   never a case id or a report's exact point (the `reports` tile layer is refused).
//! - **Staff** who work on the whole deployment (dispatchers, leaders, admins) see
//!   everything, report points included.

use crate::domain::workflow::case::Role;

/// Report points the public sees (OGC `reports`, exports, Open311) are the centres of their
/// cells at this resolution (~66 m edge), never the reported point (issue 12).
pub const PUBLIC_RESOLUTION: h3o::Resolution = h3o::Resolution::Ten;

/// The centre of the resolution-10 H3 cell holding the point, rounded to 6 decimals.
pub fn coarsened(lon: f64, lat: f64) -> Option<(f64, f64)> {
    let cell = h3o::LatLng::new(lat, lon).ok()?.to_cell(PUBLIC_RESOLUTION);
    let centre = h3o::LatLng::from(cell);
    let round = |x: f64| (x * 1e6).round() / 1e6;
    Some((round(centre.lng()), round(centre.lat())))
}

/// The view a caller gets of the analytics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Viewer {
    /// k-anonymous aggregates, significance bins without statistics.
    Public,
    /// Every aggregate, no case-level data.
    Planner,
    /// Everything, report points included.
    Staff,
}

impl Viewer {
    /// The view of a caller with `role` (`None`: anonymous).
    pub fn of(role: Option<Role>) -> Self {
        match role {
            Some(Role::Dispatcher | Role::Leader | Role::Admin) => Viewer::Staff,
            Some(Role::Planner) => Viewer::Planner,
            Some(Role::Resident | Role::GridWorker | Role::Handler | Role::System) | None => {
                Viewer::Public
            }
        }
    }

    /// Fewest reports a count shown to this viewer may hold, with the deployment's `k`.
    pub fn min_count(self, k: u32) -> u64 {
        match self {
            Viewer::Public => u64::from(k.max(1)),
            Viewer::Planner | Viewer::Staff => 1,
        }
    }

    /// Whether this viewer may see `count` reports as a number. For the public every count
    /// below k is hidden, zero included: showing zeros would single out the hidden cells as
    /// holding one to k − 1 reports.
    pub fn shows_count(self, k: u32, count: u64) -> bool {
        match self {
            Viewer::Public => count >= self.min_count(k),
            Viewer::Planner | Viewer::Staff => true,
        }
    }

    /// Whether this viewer sees single reports (case ids, exact points).
    pub fn sees_reports(self) -> bool {
        self == Viewer::Staff
    }

    /// Whether this viewer sees Gi* z-scores and p-values (not only the bins).
    pub fn sees_statistics(self) -> bool {
        self != Viewer::Public
    }

    /// Whether answers for this viewer may be kept by shared caches.
    pub fn is_public(self) -> bool {
        self == Viewer::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planners_see_every_aggregate_but_no_single_report() {
        let planner = Viewer::of(Some(Role::Planner));
        assert_eq!(planner, Viewer::Planner);
        assert!(planner.shows_count(3, 1) && planner.shows_count(3, 0));
        assert!(planner.sees_statistics());
        assert!(!planner.sees_reports());
    }

    #[test]
    fn the_public_sees_counts_of_k_or_more_and_no_statistics() {
        for role in [
            None,
            Some(Role::Resident),
            Some(Role::GridWorker),
            Some(Role::Handler),
        ] {
            let v = Viewer::of(role);
            assert_eq!(v, Viewer::Public, "{role:?}");
            assert!(!v.shows_count(3, 0) && !v.shows_count(3, 2) && v.shows_count(3, 3));
            assert!(!v.sees_statistics() && !v.sees_reports());
        }
        // A k of 0 still hides nothing but empty hexagons.
        assert_eq!(Viewer::Public.min_count(0), 1);
    }

    #[test]
    fn dispatchers_leaders_and_admins_see_everything() {
        for role in [Role::Dispatcher, Role::Leader, Role::Admin] {
            let v = Viewer::of(Some(role));
            assert!(v.sees_reports() && v.sees_statistics() && v.shows_count(3, 1));
        }
    }
}
