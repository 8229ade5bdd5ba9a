//! The living demo (issue 11): staff for every role and unit the workflow needs, and a
//! year of synthetic reports that went through the workflow, so that `serve --demo` opens
//! on a deployment that looks used: most cases closed and rated, some open, some yellow and
//! red, some supervised (督办), some duplicates merged.
//!
//! Everything is deterministic for a seed and marked synthetic. Reports cluster like real
//! ones: along a few streets, around markets and around schools, plus a scattered
//! background; each place has the categories people report there (vendors and garbage at
//! markets, parking at school gates, lights and potholes along streets).
//!
//! The history is not painted on: every case's log is built event by event through the
//! domain's state machine ([`CaseState::apply`]), the targets come from the plan library
//! ([`choose_target`]) and the deadlines from the working calendar, so each log folds
//! exactly as a live one would, and the deadline job finds nothing left to escalate.
//! Nothing happens after `now`: a case whose next step would lie in the future simply
//! waits there, which is what makes recent cases open.
//!
//! The place it happens in is [`jurisdiction`]: the real outline of 兴隆台区 cut into
//! synthetic streets, communities and grids. It is demo data, not a rule of the domain, so
//! it lives here beside the history rather than in `crate::domain`.

pub mod jurisdiction;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Context;
use chrono::{DateTime, Duration, Timelike, Utc};
use geo::{Coord, InteriorPoint};

use crate::api::ApiSettings;
use crate::domain::spatial::resolver::Jurisdiction;
use crate::domain::spatial::units::{UnitCode, UnitLevel};
use crate::domain::workflow::calendar::Deadline;
use crate::domain::workflow::case::{
    Action, CaseError, CaseState, Comment, Dispatch, Event, Merge, Note, Rating, Reply, Resolution,
    Role, Score, State, Submission, Supervision, Text,
};
use crate::domain::workflow::categories::{Category, CategoryKind};
use crate::domain::workflow::dispatch::{
    DispatchDecision, DispatchInput, DispatchRule, choose_target,
};
use crate::domain::workflow::target::{RuleRef, Target};
use crate::media::{MediaKey, MediaStorage};
use crate::store::{CaseSummary, ChainEntry, NewReport, Principal, Store};

/// How much history to make, from which seed, up to when.
#[derive(Debug, Clone, Copy)]
pub struct DemoPlan {
    pub reports: usize,
    pub seed: u64,
    pub now: DateTime<Utc>,
}

impl DemoPlan {
    /// What `serve --demo` builds: 20,000 reports over the twelve months before `now`.
    pub fn standard(now: DateTime<Utc>) -> Self {
        Self {
            reports: 20_000,
            seed: 20_261_201,
            now,
        }
    }
}

/// The "after" photo every synthetic resolution carries, stored once in media storage.
pub const AFTER_PHOTO_KEY: &str = "demo/after.png";
const AFTER_PHOTO: &[u8] = include_bytes!("after.png");

/// The demo as built: principals and the reports with their ids.
pub struct Demo {
    pub principals: Vec<Principal>,
    pub history: Vec<(String, NewReport)>,
}

/// Builds the demo and stores it, unless the store holds one already. Returns how many
/// reports it stored (`None`: left as it was).
pub async fn populate(
    store: &dyn Store,
    media: &dyn MediaStorage,
    jurisdiction: &Jurisdiction,
    settings: &ApiSettings,
    plan: DemoPlan,
) -> anyhow::Result<Option<usize>> {
    if store.demo_loaded().await? {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let categories = store.categories().await?;
    let rules: Vec<DispatchRule> = match store.current_plan().await? {
        Some(r) => serde_json::from_value(r.rules).context("the stored plan library")?,
        None => crate::domain::workflow::dispatch::parse_rule_file(
            crate::domain::workflow::dispatch::SHIPPED_RULES,
        )?,
    };
    // A store that took reports before keeps them as they are: the demo then brings its
    // staff only, so that no synthetic case id collides with a real one.
    let has_cases = !store
        .list_cases(&crate::store::CaseQuery {
            scope: crate::store::CaseScope::All,
            states: Vec::new(),
            warning: None,
            unit: None,
            category: None,
            bbox: None,
            supervision_queue: false,
            now: plan.now,
            limit: 1,
            after: None,
            submitted_from: None,
            submitted_until: None,
        })
        .await?
        .is_empty();
    let plan = if has_cases {
        tracing::warn!("the store holds reports already: the demo adds its staff, no history");
        DemoPlan { reports: 0, ..plan }
    } else {
        plan
    };
    let demo = build(jurisdiction, &categories, &rules, settings, plan)?;
    let key = MediaKey::parse(AFTER_PHOTO_KEY)?;
    media
        .put(&key, bytes::Bytes::from_static(AFTER_PHOTO))
        .await
        .context("storing the demo's after photo")?;
    store
        .store_demo(&demo.principals, &demo.history, plan.now)
        .await?;
    tracing::info!(
        principals = demo.principals.len(),
        reports = demo.history.len(),
        seconds = started.elapsed().as_secs_f64(),
        "stored the demo's staff and history (synthetic)"
    );
    Ok(Some(demo.history.len()))
}

/// Builds the demo's principals and history (no I/O).
pub fn build(
    j: &Jurisdiction,
    categories: &[Category],
    rules: &[DispatchRule],
    settings: &ApiSettings,
    plan: DemoPlan,
) -> anyhow::Result<Demo> {
    let mut rng = fastrand::Rng::with_seed(plan.seed);
    let places = Places::new(j, &mut rng)?;
    let categories: HashMap<&str, &Category> = categories
        .iter()
        .filter(|c| !c.retired && c.kind_is_leaf())
        .map(|c| (c.code.as_str(), c))
        .collect();
    let mut specs = specs(j, &places, &categories, &mut rng, plan);
    specs.sort_by_key(|s| s.at);

    let staff = Staff::new(j, &specs);
    let departments = staff.departments.clone();
    let staffed =
        move |d: &crate::domain::workflow::departments::DepartmentCode| departments.contains(d);

    // Case ids per local day, in time order.
    let mut per_day: BTreeMap<String, i64> = BTreeMap::new();
    let ids: Vec<String> = specs
        .iter()
        .map(|s| {
            let day =
                s.at.with_timezone(&settings.timezone)
                    .format("%Y%m%d")
                    .to_string();
            let n = per_day.entry(day.clone()).or_default();
            *n += 1;
            format!("{}-{day}-{:06}", settings.case_prefix, *n)
        })
        .collect();
    let index_of: HashMap<usize, usize> =
        specs.iter().enumerate().map(|(i, s)| (s.key, i)).collect();

    let mut history = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let category = categories[spec.category];
        let master = spec
            .duplicate_of
            .and_then(|k| index_of.get(&k))
            .map(|&m| ids[m].as_str());
        let mut life = Life::new(spec, category, &staff, settings, plan.now, &mut rng);
        life.run(rules, &staffed, master);
        let (events, case) = life.finish().with_context(|| format!("case {}", ids[i]))?;
        let summary = CaseSummary::of(
            &case,
            events.len() as i32,
            &settings.calendar,
            settings.red_margin,
        );
        let chain: Vec<ChainEntry> = spec
            .chain
            .iter()
            .map(|code| ChainEntry {
                level: code.level(),
                code: code.to_string(),
                name: j
                    .by_code(code)
                    .map(|id| j.unit(id).name.clone())
                    .unwrap_or_default(),
            })
            .collect();
        let h3 = h3o::LatLng::new(spec.point.y, spec.point.x)
            .context("a demo point is a valid coordinate")?
            .to_cell(h3o::Resolution::Fifteen);
        let day = ids[i][settings.case_prefix.len() + 1..][..8].to_owned();
        history.push((
            ids[i].clone(),
            NewReport {
                created_at: spec.at,
                case_prefix: settings.case_prefix.clone(),
                case_day: day,
                description: spec.description.clone(),
                category: spec.category.to_owned(),
                lon: spec.point.x,
                lat: spec.point.y,
                h3_r15: u64::from(h3),
                input_datum: "wgs84".into(),
                input_lon: spec.point.x,
                input_lat: spec.point.y,
                accuracy_m: Some(10.0),
                address: None,
                contact: None,
                chain,
                snapped_m: None,
                near_boundary: None,
                media: Vec::new(),
                events,
                summary,
                // Nobody reported the demo's history: a secret nobody holds.
                follow_up_sha256: crate::domain::workflow::access::token_digest(
                    &crate::domain::workflow::access::new_follow_up_secret(),
                ),
            },
        ));
    }
    Ok(Demo {
        principals: staff.principals,
        history,
    })
}

trait LeafCategory {
    fn kind_is_leaf(&self) -> bool;
}

impl LeafCategory for Category {
    /// Major categories (two digits) group the minor ones and take no reports of their own,
    /// except praise and consultation, which have no minors.
    fn kind_is_leaf(&self) -> bool {
        self.code.as_str().len() > 2 || self.kind != CategoryKind::Problem
    }
}

/// The kinds of place reports cluster at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlaceKind {
    Market,
    School,
    Street,
    Background,
}

impl PlaceKind {
    /// Categories reported at this kind of place, with weights.
    fn categories(self) -> &'static [(&'static str, u32)] {
        match self {
            Self::Market => &[
                ("0202", 25),
                ("0203", 15),
                ("0206", 15),
                ("0101", 15),
                ("0105", 10),
                ("0604", 5),
                ("0601", 5),
                ("0201", 10),
                ("90", 2),
            ],
            Self::School => &[
                ("0201", 35),
                ("0204", 15),
                ("0308", 8),
                ("0309", 5),
                ("0301", 10),
                ("0206", 10),
                ("0303", 7),
                ("90", 5),
                ("91", 5),
            ],
            Self::Street => &[
                ("0301", 15),
                ("0302", 10),
                ("0303", 15),
                ("0312", 8),
                ("0401", 8),
                ("0103", 10),
                ("0102", 10),
                ("0201", 10),
                ("0503", 5),
                ("0504", 5),
                ("0801", 4),
            ],
            Self::Background => &[
                ("0101", 15),
                ("0207", 10),
                ("0208", 5),
                ("0314", 5),
                ("0402", 5),
                ("0602", 8),
                ("0701", 5),
                ("0106", 5),
                ("0305", 5),
                ("0110", 4),
                ("90", 5),
                ("91", 5),
                ("0313", 3),
                ("0805", 1),
                ("0804", 2),
                ("0104", 4),
                ("0501", 3),
            ],
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Self::Market => "菜市场门口",
            Self::School => "学校门口",
            Self::Street => "路边",
            Self::Background => "小区里",
        }
    }
}

/// Where reports come from: market and school centres, street segments, and the grids.
struct Places {
    markets: Vec<Coord<f64>>,
    schools: Vec<Coord<f64>>,
    streets: Vec<(Coord<f64>, Coord<f64>)>,
    grids: Vec<Coord<f64>>,
}

/// Metres to degrees near the district (41° N).
const M_LAT: f64 = 1.0 / 111_320.0;
const M_LON: f64 = 1.0 / (111_320.0 * 0.7547);

impl Places {
    fn new(j: &Jurisdiction, rng: &mut fastrand::Rng) -> anyhow::Result<Self> {
        let grids: Vec<Coord<f64>> = j
            .units()
            .iter()
            .filter(|u| u.level == UnitLevel::Grid)
            .filter_map(|u| u.geometry.interior_point().map(|p| p.0))
            .collect();
        anyhow::ensure!(!grids.is_empty(), "the demo needs unit grids");
        // Most people live in the built-up part: draw the places from a few town centres.
        let towns: Vec<Coord<f64>> = (0..6).map(|_| grids[rng.usize(..grids.len())]).collect();
        let near_town = |rng: &mut fastrand::Rng, spread_m: f64| loop {
            let t = towns[rng.usize(..towns.len())];
            let c = jitter(rng, t, spread_m);
            if j.locate(c).is_some() {
                break c;
            }
        };
        let markets = (0..14).map(|_| near_town(rng, 2500.0)).collect();
        let schools = (0..18).map(|_| near_town(rng, 3000.0)).collect();
        let streets = (0..22)
            .map(|_| {
                let a = near_town(rng, 3000.0);
                let angle = rng.f64() * std::f64::consts::TAU;
                let len = 600.0 + rng.f64() * 1400.0;
                let b = Coord {
                    x: a.x + angle.cos() * len * M_LON,
                    y: a.y + angle.sin() * len * M_LAT,
                };
                (a, b)
            })
            .collect();
        Ok(Self {
            markets,
            schools,
            streets,
            grids,
        })
    }

    fn draw(&self, rng: &mut fastrand::Rng) -> (PlaceKind, Coord<f64>) {
        let r = rng.u32(..100);
        if r < 30 {
            let c = self.markets[rng.usize(..self.markets.len())];
            (PlaceKind::Market, gauss(rng, c, 70.0))
        } else if r < 50 {
            let c = self.schools[rng.usize(..self.schools.len())];
            (PlaceKind::School, gauss(rng, c, 90.0))
        } else if r < 80 {
            let (a, b) = self.streets[rng.usize(..self.streets.len())];
            let t = rng.f64();
            let on = Coord {
                x: a.x + (b.x - a.x) * t,
                y: a.y + (b.y - a.y) * t,
            };
            (PlaceKind::Street, gauss(rng, on, 12.0))
        } else {
            let c = self.grids[rng.usize(..self.grids.len())];
            (PlaceKind::Background, jitter(rng, c, 40.0))
        }
    }
}

fn jitter(rng: &mut fastrand::Rng, c: Coord<f64>, m: f64) -> Coord<f64> {
    Coord {
        x: c.x + (rng.f64() * 2.0 - 1.0) * m * M_LON,
        y: c.y + (rng.f64() * 2.0 - 1.0) * m * M_LAT,
    }
}

/// A normally distributed point around `c` (Box–Muller), σ in metres.
fn gauss(rng: &mut fastrand::Rng, c: Coord<f64>, sigma_m: f64) -> Coord<f64> {
    let u1 = rng.f64().max(1e-12);
    let u2 = rng.f64();
    let r = (-2.0 * u1.ln()).sqrt() * sigma_m;
    let a = std::f64::consts::TAU * u2;
    Coord {
        x: c.x + r * a.cos() * M_LON,
        y: c.y + r * a.sin() * M_LAT,
    }
}

fn weighted<'a>(rng: &mut fastrand::Rng, items: &[(&'a str, u32)]) -> &'a str {
    let weights: Vec<u32> = items.iter().map(|(_, w)| *w).collect();
    items[weighted_index(rng, &weights)].0
}

fn weighted_index(rng: &mut fastrand::Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut r = rng.u32(..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i;
        }
        r -= w;
    }
    0
}

/// Hours of the day (local) people report at, weighted: few at night, peaks at 8, 12, 18.
const HOUR_WEIGHTS: [u32; 24] = [
    1, 1, 1, 1, 1, 2, 4, 8, 12, 11, 10, 10, 11, 9, 9, 9, 10, 11, 12, 10, 8, 6, 4, 2,
];

/// One report to make.
struct Spec {
    /// Its number before sorting, for duplicates to name their master.
    key: usize,
    at: DateTime<Utc>,
    point: Coord<f64>,
    chain: Vec<UnitCode>,
    category: &'static str,
    description: String,
    reporter: usize,
    duplicate_of: Option<usize>,
    /// A case the handler sits on (it stays open, turns yellow and red).
    stalls: bool,
}

/// How many residents report in the demo.
const RESIDENTS: usize = 400;

fn specs(
    j: &Jurisdiction,
    places: &Places,
    categories: &HashMap<&str, &Category>,
    rng: &mut fastrand::Rng,
    plan: DemoPlan,
) -> Vec<Spec> {
    let mut out: Vec<Spec> = Vec::with_capacity(plan.reports);
    let chain_of = |c: Coord<f64>| -> Option<Vec<UnitCode>> {
        let unit = j.locate(c)?;
        Some(
            j.chain(unit)
                .into_iter()
                .map(|id| j.unit(id).code.clone())
                .collect(),
        )
    };
    while out.len() < plan.reports {
        let key = out.len();
        // Duplicates: the same problem reported again nearby, minutes to hours later.
        if key > 10 && rng.u32(..100) < 3 {
            let m = rng.usize(..key);
            let master = &out[m];
            let at = master.at + Duration::minutes(rng.i64(5..600));
            let point = jitter(rng, master.point, 15.0);
            if master.duplicate_of.is_none()
                && categories[master.category].kind == CategoryKind::Problem
                && at < plan.now
                && let Some(chain) = chain_of(point)
            {
                let spec = Spec {
                    key,
                    at,
                    point,
                    chain,
                    category: master.category,
                    description: format!("{}，同样的问题还在", master.description),
                    reporter: rng.usize(..RESIDENTS),
                    duplicate_of: Some(m),
                    stalls: false,
                };
                out.push(spec);
            }
            continue;
        }
        let (kind, point) = places.draw(rng);
        let Some(chain) = chain_of(point) else {
            continue;
        };
        let available: Vec<(&'static str, u32)> = kind
            .categories()
            .iter()
            .copied()
            .filter(|(c, _)| categories.contains_key(c))
            .collect();
        if available.is_empty() {
            continue;
        }
        let category = weighted(rng, &available);
        // Days back: more reports recently (the app spreads), none in the future.
        let days_back = 365.0 * rng.f64().powf(1.3);
        let hour = weighted_index(rng, &HOUR_WEIGHTS);
        let local_day = (plan.now - Duration::seconds((days_back * 86_400.0) as i64))
            .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00"));
        let Some(local) = local_day
            .with_hour(hour as u32)
            .and_then(|t| t.with_minute(rng.u32(..60)))
        else {
            continue;
        };
        let at = local.with_timezone(&Utc);
        if at >= plan.now {
            continue;
        }
        let recent = plan.now - at < Duration::days(45);
        let name = &categories[category].name;
        let street = chain
            .iter()
            .find(|c| c.level() == UnitLevel::Street)
            .and_then(|c| j.by_code(c))
            .map(|id| j.unit(id).name.clone())
            .unwrap_or_default();
        out.push(Spec {
            key,
            at,
            point,
            chain,
            category,
            description: describe(rng, kind, name, &street),
            reporter: rng.usize(..RESIDENTS),
            duplicate_of: None,
            stalls: rng.u32(..1000) < if recent { 40 } else { 2 },
        });
    }
    out
}

fn describe(rng: &mut fastrand::Rng, kind: PlaceKind, category: &str, street: &str) -> String {
    const ENDINGS: [&str; 5] = [
        "，请尽快处理",
        "，已经好几天了",
        "，影响行人通行",
        "，希望有关部门管一管",
        "，麻烦派人看看",
    ];
    let ending = ENDINGS[rng.usize(..ENDINGS.len())];
    format!("{street}{}{category}{ending}（演示数据）", kind.phrase())
}

/// The demo's people: who works where, and who reports.
struct Staff {
    principals: Vec<Principal>,
    departments: Vec<crate::domain::workflow::departments::DepartmentCode>,
    /// Handler of each unit or department, by code.
    handler: HashMap<String, String>,
    /// Grid worker of each grid that has cases.
    grid_worker: HashMap<String, String>,
    dispatcher: String,
    leader: String,
}

impl Staff {
    fn new(j: &Jurisdiction, specs: &[Spec]) -> Self {
        let mut principals = Vec::new();
        let mut add = |id: String, role: Role, unit: Option<String>, name: String| {
            principals.push(Principal {
                id: id.clone(),
                role,
                unit,
                name: Some(name),
            });
            id
        };
        let dispatcher = add(
            "u-demo-dispatcher".into(),
            Role::Dispatcher,
            None,
            "指挥中心调度员".into(),
        );
        add(
            "u-demo-dispatcher-2".into(),
            Role::Dispatcher,
            None,
            "指挥中心夜班调度员".into(),
        );
        let leader = add(
            "u-demo-leader".into(),
            Role::Leader,
            None,
            "区城管委分管领导".into(),
        );
        add(
            "u-demo-planner".into(),
            Role::Planner,
            None,
            "规划分析员".into(),
        );
        add(
            "u-demo-admin".into(),
            Role::Admin,
            None,
            "系统管理员".into(),
        );

        let mut handler = HashMap::new();
        for u in j.units() {
            if matches!(
                u.level,
                UnitLevel::District | UnitLevel::Street | UnitLevel::Community
            ) {
                let id = add(
                    format!("u-demo-h-{}", u.code),
                    Role::Handler,
                    Some(u.code.to_string()),
                    format!("{}处置员", u.name),
                );
                handler.insert(u.code.to_string(), id);
            }
        }
        for d in crate::domain::workflow::departments::shipped() {
            let id = add(
                format!("u-demo-h-{}", d.code.as_str().to_lowercase()),
                Role::Handler,
                Some(d.code.as_str().to_owned()),
                format!("{}值班", d.short_name.as_deref().unwrap_or(&d.name)),
            );
            handler.insert(d.code.as_str().to_owned(), id);
        }
        let grids: BTreeSet<&UnitCode> = specs
            .iter()
            .filter_map(|s| s.chain.iter().find(|c| c.level() == UnitLevel::Grid))
            .collect();
        let mut grid_worker = HashMap::new();
        for g in grids {
            let community = g
                .parent()
                .and_then(|c| j.by_code(&c))
                .map(|id| j.unit(id).name.clone())
                .unwrap_or_default();
            let id = add(
                format!("u-demo-g-{g}"),
                Role::GridWorker,
                Some(g.to_string()),
                format!("{community}网格员（{}）", &g.as_str()[12..]),
            );
            grid_worker.insert(g.to_string(), id);
        }
        for n in 0..RESIDENTS {
            add(
                format!("u-demo-r-{n:04}"),
                Role::Resident,
                None,
                format!("居民{n:04}"),
            );
        }
        Self {
            principals,
            departments: crate::domain::workflow::departments::shipped()
                .iter()
                .map(|d| d.code.clone())
                .collect(),
            handler,
            grid_worker,
            dispatcher,
            leader,
        }
    }

    fn resident(n: usize) -> String {
        format!("u-demo-r-{n:04}")
    }

    /// Who works a case at `target` located in `grid`: the grid worker of the grid when the
    /// target holds it (as `dispatch::assign` picks), else the target's handler.
    fn assignee(&self, target: &Target, grid: Option<&UnitCode>) -> Option<(String, Role)> {
        if let (Target::Unit(u), Some(g)) = (target, grid)
            && g.as_str().starts_with(u.as_str())
            && let Some(w) = self.grid_worker.get(g.as_str())
        {
            return Some((w.clone(), Role::GridWorker));
        }
        self.handler
            .get(target.code())
            .map(|h| (h.clone(), Role::Handler))
    }
}

/// One case's life, event by event through the state machine.
struct Life<'a> {
    spec: &'a Spec,
    category: &'a Category,
    staff: &'a Staff,
    settings: &'a ApiSettings,
    now: DateTime<Utc>,
    rng: &'a mut fastrand::Rng,
    events: Vec<Event>,
    case: Option<CaseState>,
    /// The first refused event: a bug of this generator, never stored.
    refused: Option<CaseError>,
    /// Who works the case now.
    worker: Option<(String, Role)>,
}

/// A text the generator writes; never empty, never too long.
fn text(s: &str) -> Text {
    Text::parse(s).unwrap_or_else(|_| Text::parse("演示").expect("a short text"))
}

impl<'a> Life<'a> {
    fn new(
        spec: &'a Spec,
        category: &'a Category,
        staff: &'a Staff,
        settings: &'a ApiSettings,
        now: DateTime<Utc>,
        rng: &'a mut fastrand::Rng,
    ) -> Self {
        Self {
            spec,
            category,
            staff,
            settings,
            now,
            rng,
            events: Vec::new(),
            case: None,
            refused: None,
            worker: None,
        }
    }

    fn at(&self) -> DateTime<Utc> {
        self.case.as_ref().map_or(self.spec.at, |c| c.updated_at)
    }

    fn minutes(&mut self, lo: i64, hi: i64) -> Duration {
        Duration::minutes(self.rng.i64(lo..hi.max(lo + 1)))
    }

    /// Records `action` at `at` unless that lies after `now` (the case waits there) or the
    /// machine refuses it (a generator bug, reported by [`Life::finish`]). Deadline
    /// warnings that fall before `at` are recorded first, as the deadline job would have.
    fn push(
        &mut self,
        at: DateTime<Utc>,
        actor: &str,
        role: Role,
        action: Action,
        reason: Option<&str>,
    ) -> Option<()> {
        let at = at.max(self.at());
        self.escalate_until(at.min(self.now))?;
        if at > self.now {
            return None;
        }
        self.record(at, actor, role, action, reason)
    }

    fn record(
        &mut self,
        at: DateTime<Utc>,
        actor: &str,
        role: Role,
        action: Action,
        reason: Option<&str>,
    ) -> Option<()> {
        // Events are in time order: nothing is recorded before what came last.
        let at = at.max(self.at());
        let event = Event {
            actor: actor.to_owned(),
            role,
            at,
            action,
            reason: reason.map(text),
        };
        let result = match &mut self.case {
            None => CaseState::open(&event).map(|c| self.case = Some(c)),
            Some(c) => c.apply(&event),
        };
        match result {
            Ok(()) => {
                self.events.push(event);
                Some(())
            }
            Err(e) => {
                self.refused = Some(e);
                None
            }
        }
    }

    /// The warnings (and a leader's 督办 on some red cases) due before `until`.
    fn escalate_until(&mut self, until: DateTime<Utc>) -> Option<()> {
        let Some(case) = &self.case else {
            return Some(());
        };
        let Some(deadline) = case.deadline.filter(|_| case.state.deadline_runs()) else {
            return Some(());
        };
        let red_at = deadline.red_at(&self.settings.calendar, self.settings.red_margin);
        if !case.escalated_yellow && deadline.at < until {
            self.record(
                deadline.at.max(self.at()),
                "system",
                Role::System,
                Action::EscalatedYellow,
                None,
            )?;
        }
        let case = self.case.as_ref()?;
        if case.escalated_yellow && !case.escalated_red && red_at < until {
            self.record(
                red_at.max(self.at()),
                "system",
                Role::System,
                Action::EscalatedRed,
                None,
            )?;
            // A reopened case may turn red the moment it reopens: the 督办 follows its red.
            let supervise_at = self.at() + Duration::hours(2);
            if self.rng.u32(..100) < 60 && supervise_at < until {
                let leader = self.staff.leader.clone();
                self.record(
                    supervise_at,
                    &leader,
                    Role::Leader,
                    Action::Supervise(Supervision {
                        opinion: text("已超期，请责任单位立即处置并回复（督办）"),
                        reply_by: Some(supervise_at + Duration::hours(24)),
                    }),
                    None,
                )?;
                let reply_at = supervise_at + Duration::hours(self.rng.i64(1..20));
                if let Some((w, role)) = self.worker.clone()
                    && reply_at < until
                {
                    self.record(
                        reply_at,
                        &w,
                        role,
                        Action::Reply(Reply {
                            text: text("已安排人员到场，正在处置"),
                        }),
                        None,
                    )?;
                }
            }
        }
        Some(())
    }

    fn run(
        &mut self,
        rules: &[DispatchRule],
        staffed: &dyn Fn(&crate::domain::workflow::departments::DepartmentCode) -> bool,
        master: Option<&str>,
    ) {
        let _ = self.live(rules, staffed, master);
    }

    fn live(
        &mut self,
        rules: &[DispatchRule],
        staffed: &dyn Fn(&crate::domain::workflow::departments::DepartmentCode) -> bool,
        master: Option<&str>,
    ) -> Option<()> {
        let spec = self.spec;
        let reporter = Staff::resident(spec.reporter);
        let dispatcher = self.staff.dispatcher.clone();
        self.record(
            spec.at,
            &reporter,
            Role::Resident,
            Action::Submit(Submission {
                kind: self.category.kind,
                verify_first: self.category.verify_first,
            }),
            None,
        )?;
        match self.category.kind {
            CategoryKind::Praise => {
                let at = spec.at + self.minutes(30, 2880);
                return self.push(at, &dispatcher, Role::Dispatcher, Action::Acknowledge, None);
            }
            CategoryKind::Consultation => {
                let at = spec.at + self.minutes(20, 1440);
                return self.push(
                    at,
                    &dispatcher,
                    Role::Dispatcher,
                    Action::Answer(Reply {
                        text: text("您好，已转相关部门，具体办理时间请关注后续通知"),
                    }),
                    None,
                );
            }
            CategoryKind::Problem => {}
        }
        let grid = spec
            .chain
            .iter()
            .find(|c| c.level() == UnitLevel::Grid)
            .cloned();
        if self.rng.u32(..100) < 1 {
            let at = spec.at + self.minutes(5, 30);
            return self.push(
                at,
                &reporter,
                Role::Resident,
                Action::Cancel,
                Some("问题已自行解决"),
            );
        }
        if self.category.verify_first {
            let worker = grid
                .as_ref()
                .and_then(|g| self.staff.grid_worker.get(g.as_str()))
                .cloned()?;
            let at = spec.at + self.minutes(20, 240);
            if self.rng.u32(..100) < 4 {
                return self.push(
                    at,
                    &worker,
                    Role::GridWorker,
                    Action::Invalidate,
                    Some("现场核实未发现该问题"),
                );
            }
            self.push(at, &worker, Role::GridWorker, Action::Verify, None)?;
        }
        let input = DispatchInput {
            category: self.category,
            chain: &spec.chain,
            local_time: self.settings.calendar.local(self.at()).time(),
            description: &spec.description,
        };
        let (target, limit, rule) = match choose_target(rules, &input, staffed) {
            DispatchDecision::Dispatch {
                target,
                time_limit,
                rule,
            } => (target, time_limit, rule),
            DispatchDecision::Queue { .. } => {
                let street = spec
                    .chain
                    .iter()
                    .find(|c| c.level() == UnitLevel::Street)?
                    .clone();
                (Target::Unit(street), self.category.limit(), None)
            }
        };
        let at = self.at();
        self.dispatch(
            at,
            "system",
            Role::System,
            target,
            limit,
            rule,
            grid.as_ref(),
        )?;
        if let Some(master) = master {
            let at = self.at() + self.minutes(5, 90);
            return self.push(
                at,
                &dispatcher,
                Role::Dispatcher,
                Action::Merge(Merge { into: text(master) }),
                Some("重复上报，合并到主案卷"),
            );
        }
        let (mut worker, mut role) = self.worker.clone()?;
        if self.rng.u32(..100) < 5 {
            let at = self.at() + self.minutes(30, 180);
            self.push(
                at,
                &worker,
                role,
                Action::Return,
                Some("不属于本单位职责范围"),
            )?;
            let street = spec
                .chain
                .iter()
                .find(|c| c.level() == UnitLevel::Street)?
                .clone();
            let at = self.at() + self.minutes(10, 60);
            self.dispatch(
                at,
                &dispatcher,
                Role::Dispatcher,
                Target::Unit(street),
                self.category.limit(),
                None,
                None,
            )?;
            (worker, role) = self.worker.clone()?;
        }
        let at = self.at() + self.minutes(5, 90);
        self.push(at, &worker, role, Action::Accept, None)?;
        // How long the work takes, as a share of the time the deadline allows.
        let allowed = self
            .case
            .as_ref()
            .and_then(|c| c.deadline)
            .map_or(Duration::hours(8), |d: Deadline| d.at - self.at())
            .max(Duration::minutes(30));
        let share = if spec.stalls {
            1000.0
        } else {
            match self.rng.u32(..100) {
                0..85 => 0.1 + self.rng.f64() * 0.8,
                85..95 => 1.05 + self.rng.f64() * 0.8,
                _ => 2.2 + self.rng.f64() * 3.0,
            }
        };
        let work = Duration::seconds((allowed.num_seconds() as f64 * share) as i64);
        if self.rng.bool() {
            let at = self.at() + work / 3;
            self.push(
                at,
                &worker,
                role,
                Action::Progress(Note {
                    note: Some(text("已到现场，正在处理")),
                    photos: Vec::new(),
                }),
                None,
            )?;
        }
        let at = self.at() + work * 2 / 3;
        self.resolve(at, &worker, role)?;
        self.close()?;
        // The reporter rates most closed cases; a low score reopens it for rework.
        if self.rng.u32(..100) < 78 {
            let score = match self.rng.u32(..100) {
                0..60 => 5,
                60..85 => 4,
                85..93 => 3,
                93..97 => 2,
                _ => 1,
            };
            let at = self.at() + self.minutes(30, 4320);
            let rating = Rating {
                score: Score::new(score).ok()?,
                comment: Comment::parse(if score >= 4 {
                    "处理及时，谢谢"
                } else {
                    "还没有彻底解决"
                })
                .ok()?,
                fixed: score > 2,
            };
            self.push(at, &reporter, Role::Resident, Action::Rate(rating), None)?;
            if self
                .case
                .as_ref()
                .is_some_and(|c| c.state == State::Reopened)
            {
                let at = self.at() + self.minutes(30, 600);
                self.push(
                    at,
                    &dispatcher,
                    Role::Dispatcher,
                    Action::Rework,
                    Some("群众评价未解决，返工"),
                )?;
                let at = self.at() + self.minutes(60, 1440);
                self.resolve(at, &worker, role)?;
                let at = self.at() + self.minutes(10, 240);
                self.push(at, &dispatcher, Role::Dispatcher, Action::Close, None)?;
            }
        }
        Some(())
    }

    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &mut self,
        at: DateTime<Utc>,
        actor: &str,
        role: Role,
        target: Target,
        limit: Option<crate::domain::workflow::calendar::TimeLimit>,
        rule: Option<RuleRef>,
        grid: Option<&UnitCode>,
    ) -> Option<()> {
        let at = at.max(self.at());
        let assignee = self.staff.assignee(&target, grid);
        let deadline = limit.map(|l| self.settings.calendar.deadline_for(at, l));
        self.push(
            at,
            actor,
            role,
            Action::Dispatch(Dispatch {
                target,
                assignee: assignee.as_ref().map(|a| a.0.clone()),
                rule,
                deadline,
            }),
            None,
        )?;
        self.worker = assignee;
        Some(())
    }

    fn resolve(&mut self, at: DateTime<Utc>, worker: &str, role: Role) -> Option<()> {
        let photos =
            crate::domain::workflow::case::AfterPhotos::new(vec![text(AFTER_PHOTO_KEY)]).ok()?;
        self.push(
            at,
            worker,
            role,
            Action::Resolve(Resolution {
                note: text("已处理完毕，现场恢复正常"),
                after_photos: photos,
            }),
            None,
        )
    }

    /// Re-inspection by the grid worker where the category asked for verification, else
    /// the command centre closes it.
    fn close(&mut self) -> Option<()> {
        let grid_worker = self
            .spec
            .chain
            .iter()
            .find(|c| c.level() == UnitLevel::Grid)
            .and_then(|g| self.staff.grid_worker.get(g.as_str()))
            .cloned();
        match grid_worker {
            Some(w) if self.category.verify_first => {
                let at = self.at() + self.minutes(30, 600);
                self.push(
                    at,
                    &w,
                    Role::GridWorker,
                    Action::Reinspect(Note::default()),
                    None,
                )
            }
            _ => {
                let at = self.at() + self.minutes(10, 240);
                let dispatcher = self.staff.dispatcher.clone();
                self.push(at, &dispatcher, Role::Dispatcher, Action::Close, None)
            }
        }
    }

    fn finish(self) -> anyhow::Result<(Vec<Event>, CaseState)> {
        if let Some(e) = self.refused {
            anyhow::bail!("the demo generator made an illegal event: {e}");
        }
        let case = self.case.context("a case without its submit event")?;
        Ok((self.events, case))
    }
}
