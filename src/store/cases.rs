//! The case log in the store (issue 3): the append-only `case_events` table, one row per
//! [`Event`], numbered 1, 2, 3 … per case. The current state is never stored; callers fold
//! the log ([`crate::domain::workflow::case::fold`]).
//!
//! Appends are optimistic: the caller folds the log it read, checks the new event against
//! that state, and appends it as the next number. The primary key `(case_id, seq)` makes
//! a concurrent writer that read the same log lose with [`Appended::SeqTaken`]; it re-reads
//! and checks again (or answers 409), so no event is ever judged against a stale state.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::analytics::Bbox;
use super::rewards::Earning;
use super::{PgStore, SqliteStore, StoreError, StoreResult};
use crate::domain::workflow::calendar::{IsoDuration, WarningLevel, WorkingCalendar};
use crate::domain::workflow::case::{CaseState, Event};

/// One stored event with its number in the case's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i32,
    pub event: Event,
}

/// The outcome of [`CaseStore::append_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The event is stored under the number asked for.
    Stored,
    /// Another writer stored an event under that number first: re-read the log, check the
    /// event against the new state, and try again.
    SeqTaken,
    /// The event is a merge and its master, as it stands inside the append's transaction,
    /// is not an open case (merged meanwhile, perhaps into this very case, or closed):
    /// nothing was stored.
    MasterNotOpen,
}

/// What the case's log folds to, as kept in the `case_index` read model: rewritten with every
/// event, so that lists, filters and the deadline job never fold every log.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSummary {
    /// The number of the last event folded.
    pub last_seq: i32,
    pub state: String,
    pub kind: String,
    pub reporter: String,
    /// The current target's code (a unit code or a department code).
    pub target: Option<String>,
    pub assignee: Option<String>,
    pub deadline_at: Option<DateTime<Utc>>,
    /// When the case turns red (the deadline plus the red margin, on the calendar).
    pub red_at: Option<DateTime<Utc>>,
    /// When the deadline clock stopped; `None` while it runs.
    pub clock_stopped_at: Option<DateTime<Utc>>,
    pub escalated_yellow: bool,
    pub escalated_red: bool,
    pub open_supervisions: i32,
    pub merged_into: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CaseSummary {
    /// The summary of `case` after its event number `last_seq`; `red_at` is computed on
    /// `calendar` with the deployment's red margin (`None`: one more time limit).
    pub fn of(
        case: &CaseState,
        last_seq: i32,
        calendar: &WorkingCalendar,
        red_margin: Option<IsoDuration>,
    ) -> Self {
        Self {
            last_seq,
            state: case.state.as_str().to_owned(),
            kind: case.kind.as_str().to_owned(),
            reporter: case.reporter.clone(),
            target: case.target.as_ref().map(|t| t.code().to_owned()),
            assignee: case.assignee.clone(),
            deadline_at: case.deadline.map(|d| d.at),
            red_at: case.deadline.map(|d| d.red_at(calendar, red_margin)),
            clock_stopped_at: case.clock_stopped_at(),
            escalated_yellow: case.escalated_yellow,
            escalated_red: case.escalated_red,
            open_supervisions: case.open_supervisions as i32,
            merged_into: case.merged_into.as_ref().map(|m| m.as_str().to_owned()),
            submitted_at: case.submitted_at,
            updated_at: case.updated_at,
        }
    }
}

/// A row of the case index as lists read it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IndexedCase {
    pub case_id: String,
    pub state: String,
    pub kind: String,
    pub category: String,
    pub reporter: String,
    pub target: Option<String>,
    pub assignee: Option<String>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub red_at: Option<DateTime<Utc>>,
    pub clock_stopped_at: Option<DateTime<Utc>>,
    pub escalated_yellow: bool,
    pub escalated_red: bool,
    pub open_supervisions: i32,
    pub merged_into: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
    pub district: Option<String>,
    pub street: Option<String>,
    pub community: Option<String>,
    pub grid: Option<String>,
}

impl IndexedCase {
    /// The warning level at `now` (frozen when the clock stopped), as GET /v1/cases shows it.
    pub fn warning_level(&self, now: DateTime<Utc>) -> WarningLevel {
        match (self.deadline_at, self.red_at) {
            (Some(d), Some(r)) => WarningLevel::at(self.clock_stopped_at.unwrap_or(now), d, r),
            _ => WarningLevel::Green,
        }
    }
}

/// A duplicate merged into a master case; its reporter follows the master.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct MergedCase {
    pub case_id: String,
    #[serde(skip)]
    pub reporter: String,
}

/// Which cases a caller may see, as SQL can check it (issue 3, "Scope").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseScope {
    /// The whole deployment (dispatchers, leaders, admins).
    All,
    /// Cases reported by this resident.
    Reporter(String),
    /// Cases whose current target is this department, or this unit or a unit inside it.
    Target(String),
    /// Cases located in this unit (a grid worker's grids).
    Area(String),
}

/// Filters of `GET /v1/cases`; `None` means "any".
#[derive(Debug, Clone)]
pub struct CaseQuery {
    pub scope: CaseScope,
    pub states: Vec<String>,
    pub warning: Option<WarningLevel>,
    /// A unit code: cases located in it (any level) or targeted at it.
    pub unit: Option<String>,
    /// A category code or prefix.
    pub category: Option<String>,
    pub bbox: Option<Bbox>,
    /// Only cases with a supervision waiting for a reply, or red (the leaders' queue).
    pub supervision_queue: bool,
    pub now: DateTime<Utc>,
    pub limit: i64,
    /// Case ids sort in time order within a day; the list continues after this id.
    pub after: Option<String>,
    /// Only cases submitted at or after this instant.
    pub submitted_from: Option<DateTime<Utc>>,
    /// Only cases submitted at or before this instant.
    pub submitted_until: Option<DateTime<Utc>>,
}

/// The case log, on both backends.
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// The case's events in order; empty when there is no such case.
    async fn case_events(&self, case_id: &str) -> StoreResult<Vec<StoredEvent>>;

    /// Appends `event` as number `seq` (one more than the last event the caller folded) and
    /// rewrites the case's index row to `summary` (the fold including `event`), atomically.
    ///
    /// A merge is checked against its master inside the same transaction, with both index
    /// rows locked (in case-id order, so that two opposite merges cannot deadlock): the
    /// master must still be open and not merged ([`Appended::MasterNotOpen`] otherwise).
    /// Without this, `X → Y` and `Y → X` sent at once both pass the caller's check and
    /// both cases end merged into each other (issue 8, item 1).
    async fn append_event(
        &self,
        case_id: &str,
        seq: i32,
        event: &Event,
        summary: &CaseSummary,
    ) -> StoreResult<Appended> {
        self.append_event_earning(case_id, seq, event, summary, None)
            .await
    }

    /// [`append_event`](Self::append_event), and when `earning` is given the reporter's
    /// credit in the same transaction (issue 9): a credit is never written without the
    /// event that earns it, nor the event without its credit, and the daily cap holds under
    /// concurrent awards (the resident's lock, as `RewardStore::record_award` takes it).
    async fn append_event_earning(
        &self,
        case_id: &str,
        seq: i32,
        event: &Event,
        summary: &CaseSummary,
        earning: Option<&Earning>,
    ) -> StoreResult<Appended>;

    /// The case's index row, if there is such a case.
    async fn indexed_case(&self, case_id: &str) -> StoreResult<Option<IndexedCase>>;

    /// Cases matching `query`, in case-id order.
    async fn list_cases(&self, query: &CaseQuery) -> StoreResult<Vec<IndexedCase>>;

    /// The events of every case received on local days `from` to `to` (inclusive), with each
    /// case's category, ordered by case and number: what `GET /v1/stats` folds.
    async fn events_received_between(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> StoreResult<Vec<(String, String, StoredEvent)>>;

    /// Cases merged into `master` as duplicates: their ids and reporters.
    async fn merged_cases(&self, master: &str) -> StoreResult<Vec<MergedCase>>;

    /// Open cases whose deadline has passed at `now` and which still lack the
    /// `escalated_yellow` or (past `red_at`) the `escalated_red` event.
    async fn due_for_escalation(&self, now: DateTime<Utc>, limit: i64) -> StoreResult<Vec<String>>;
}

/// Statements that read the same on both backends.
pub(super) const INSERT_EVENT: &str =
    "insert into case_events (case_id, seq, at, actor, role, action, reason, payload)
     values ($1, $2, $3, $4, $5, $6, $7, $8)";
/// The case's row of the read model at intake: the summary plus where the report is.
pub(super) const INSERT_CASE_INDEX: &str = "insert into case_index (case_id, last_seq, state, kind,
        reporter, target, assignee, deadline_at, red_at, clock_stopped_at, escalated_yellow,
        escalated_red, open_supervisions, merged_into, submitted_at, updated_at, category,
        h3_r12, day, lon, lat, district, street, community, grid)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
        $18, $19, $20, $21, $22, $23, $24, $25)";
const UPDATE_CASE_INDEX: &str = "update case_index set last_seq = $2, state = $3, kind = $4,
        reporter = $5, target = $6, assignee = $7, deadline_at = $8, red_at = $9,
        clock_stopped_at = $10, escalated_yellow = $11, escalated_red = $12,
        open_supervisions = $13, merged_into = $14, submitted_at = $15, updated_at = $16
     where case_id = $1";
const INDEXED_COLUMNS: &str = "case_id, state, kind, category, reporter, target, assignee,
     deadline_at, red_at, clock_stopped_at, escalated_yellow, escalated_red, open_supervisions,
     merged_into, submitted_at, updated_at, lon, lat, district, street, community, grid";
/// Every filter of [`CaseQuery`] in one statement; an absent filter is bound as null.
/// Unit and category codes are digits and capitals only, so `like` patterns need no escaping.
const SELECT_CASES_WHERE: &str = "where ($1 is null or reporter = $1 or case_id in
            (select d.merged_into from case_index d where d.reporter = $1))
       and ($2 is null or target like $2)
       and ($3 is null or grid like $3)
       and ($4 is null or (',' || $4 || ',') like ('%,' || state || ',%'))
       and ($5 is null or category like $5)
       and ($6 is null or target like $6 or grid like $6)
       and ($7 is null or (lon >= $7 and lat >= $8 and lon <= $9 and lat <= $10))
       and ($11 is null or case_id > $11)
       and ($12 is null
            or ($12 = 'green' and (deadline_at is null or coalesce(clock_stopped_at, $13) <= deadline_at))
            or ($12 = 'yellow' and coalesce(clock_stopped_at, $13) > deadline_at
                               and coalesce(clock_stopped_at, $13) <= red_at)
            or ($12 = 'red' and coalesce(clock_stopped_at, $13) > red_at))
       and (not $14 or open_supervisions > 0 or (clock_stopped_at is null and red_at < $13))
       and ($16 is null or submitted_at >= $16)
       and ($17 is null or submitted_at <= $17)";
const SELECT_EVENTS_RECEIVED: &str = "select i.case_id, i.category, e.seq, e.at, e.actor,
        e.role, e.action, e.reason, e.payload
     from case_index i join case_events e on e.case_id = i.case_id
     where i.day >= $1 and i.day <= $2
     order by i.case_id, e.seq";
const SELECT_MERGED: &str =
    "select case_id, reporter from case_index where merged_into = $1 order by case_id";
const SELECT_DUE: &str = "select case_id from case_index
     where clock_stopped_at is null and deadline_at is not null and deadline_at < $1
       and (not escalated_yellow or (not escalated_red and red_at < $1))
     order by deadline_at limit $2";
const SELECT_EVENTS: &str = "select seq, at, actor, role, action, reason, payload
     from case_events where case_id = $1 order by seq";
/// The index rows of a merging case and its master, in case-id order: PostGIS appends
/// `for update` (row locks); SQLite's `begin immediate` already holds the only write lock.
const SELECT_MERGE_ROWS: &str = "select case_id, state, merged_into from case_index
     where case_id = $1 or case_id = $2 order by case_id";

/// Whether a merge's master, as its index row stands, may take a duplicate.
fn master_open(rows: &[(String, String, Option<String>)], master: &str) -> bool {
    rows.iter().any(|(id, state, merged_into)| {
        id == master
            && merged_into.is_none()
            && state
                .parse::<crate::domain::workflow::case::State>()
                .is_ok_and(|s| s.is_open())
    })
}

/// An event split into its columns: the action's name and its payload apart, so that SQL
/// readers can filter on the action.
pub(super) struct EventColumns {
    pub role: &'static str,
    pub action: &'static str,
    pub reason: Option<String>,
    pub payload: Option<Json<Value>>,
}

pub(super) fn event_columns(e: &Event) -> StoreResult<EventColumns> {
    // `Action` serialises as `{"action": name, "payload": {…}}` (payload only if it has one).
    let action = serde_json::to_value(&e.action)
        .map_err(|err| StoreError::Corrupt(format!("event does not serialise: {err}")))?;
    Ok(EventColumns {
        role: e.role.as_str(),
        action: e.action.kind().as_str(),
        reason: e.reason.as_ref().map(|r| r.as_str().to_owned()),
        payload: action.get("payload").cloned().map(Json),
    })
}

#[derive(sqlx::FromRow)]
struct CaseEventRow {
    case_id: String,
    category: String,
    #[sqlx(flatten)]
    event: EventRow,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i32,
    at: DateTime<Utc>,
    actor: String,
    role: String,
    action: String,
    reason: Option<String>,
    payload: Option<Json<Value>>,
}

impl EventRow {
    fn decode(self, case_id: &str) -> StoreResult<StoredEvent> {
        let mut v = serde_json::json!({
            "actor": self.actor, "role": self.role, "at": self.at, "action": self.action,
        });
        if let Some(p) = self.payload {
            v["payload"] = p.0;
        }
        if let Some(r) = self.reason {
            v["reason"] = Value::String(r);
        }
        let event = serde_json::from_value(v)
            .map_err(|e| StoreError::Corrupt(format!("case {case_id} event {}: {e}", self.seq)))?;
        Ok(StoredEvent {
            seq: self.seq,
            event,
        })
    }
}

/// Binds `$1` (the case id) and `$2`…`$16` (the summary) of [`INSERT_CASE_INDEX`] and
/// [`UPDATE_CASE_INDEX`], which share that order.
macro_rules! bind_summary {
    ($query:expr, $case_id:expr, $summary:expr) => {{
        let s: &CaseSummary = $summary;
        $query
            .bind($case_id)
            .bind(s.last_seq)
            .bind(&s.state)
            .bind(&s.kind)
            .bind(&s.reporter)
            .bind(&s.target)
            .bind(&s.assignee)
            .bind(s.deadline_at)
            .bind(s.red_at)
            .bind(s.clock_stopped_at)
            .bind(s.escalated_yellow)
            .bind(s.escalated_red)
            .bind(s.open_supervisions)
            .bind(&s.merged_into)
            .bind(s.submitted_at)
            .bind(s.updated_at)
    }};
}
pub(super) use bind_summary;

/// A `like` pattern for a target code: a unit and every unit inside it (unit codes extend
/// their parent's code), or exactly a department (department codes start with a letter).
fn code_pattern(code: &str) -> String {
    if code.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{code}%")
    } else {
        code.to_owned()
    }
}

/// The same statements on either pool; a macro because the backends' pool types differ.
/// `$begin` opens an append's transaction and `$lock` is the suffix that locks the rows of
/// [`SELECT_MERGE_ROWS`]; both differ between the backends.
macro_rules! impl_case_store {
    ($store:ty, $begin:expr, $lock:expr) => {
        #[async_trait]
        impl CaseStore for $store {
            async fn case_events(&self, case_id: &str) -> StoreResult<Vec<StoredEvent>> {
                let rows: Vec<EventRow> = sqlx::query_as(SELECT_EVENTS)
                    .bind(case_id)
                    .fetch_all(self.pool())
                    .await?;
                rows.into_iter().map(|r| r.decode(case_id)).collect()
            }

            async fn append_event_earning(
                &self,
                case_id: &str,
                seq: i32,
                event: &Event,
                summary: &CaseSummary,
                earning: Option<&Earning>,
            ) -> StoreResult<Appended> {
                let c = event_columns(event)?;
                let mut tx = self.pool().begin_with($begin).await?;
                if let crate::domain::workflow::case::Action::Merge(m) = &event.action {
                    let master = m.into.as_str();
                    let sql = format!("{SELECT_MERGE_ROWS}{}", $lock);
                    let rows: Vec<(String, String, Option<String>)> =
                        sqlx::query_as(sqlx::AssertSqlSafe(sql))
                            .bind(case_id)
                            .bind(master)
                            .fetch_all(&mut *tx)
                            .await?;
                    if !master_open(&rows, master) {
                        tx.rollback().await?;
                        return Ok(Appended::MasterNotOpen);
                    }
                }
                let inserted = sqlx::query(INSERT_EVENT)
                    .bind(case_id)
                    .bind(seq)
                    .bind(event.at)
                    .bind(&event.actor)
                    .bind(c.role)
                    .bind(c.action)
                    .bind(c.reason)
                    .bind(c.payload)
                    .execute(&mut *tx)
                    .await;
                match inserted {
                    Ok(_) => {}
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        tx.rollback().await?;
                        return Ok(Appended::SeqTaken);
                    }
                    Err(e) => return Err(e.into()),
                }
                bind_summary!(sqlx::query(UPDATE_CASE_INDEX), case_id, summary)
                    .execute(&mut *tx)
                    .await?;
                if let Some(e) = earning {
                    super::rewards::award_in_tx!($store, tx, &e.row, &e.decide).await?;
                }
                tx.commit().await?;
                Ok(Appended::Stored)
            }

            async fn indexed_case(&self, case_id: &str) -> StoreResult<Option<IndexedCase>> {
                let sql = format!("select {INDEXED_COLUMNS} from case_index where case_id = $1");
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(case_id)
                    .fetch_optional(self.pool())
                    .await?)
            }

            async fn list_cases(&self, q: &CaseQuery) -> StoreResult<Vec<IndexedCase>> {
                let sql = format!(
                    "select {INDEXED_COLUMNS} from case_index {SELECT_CASES_WHERE}
                     order by case_id limit $15"
                );
                let (reporter, target, area) = match &q.scope {
                    CaseScope::All => (None, None, None),
                    CaseScope::Reporter(r) => (Some(r.clone()), None, None),
                    CaseScope::Target(t) => (None, Some(code_pattern(t)), None),
                    CaseScope::Area(a) => (None, None, Some(format!("{a}%"))),
                };
                let states = (!q.states.is_empty()).then(|| q.states.join(","));
                let bbox = q.bbox;
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(reporter)
                    .bind(target)
                    .bind(area)
                    .bind(states)
                    .bind(q.category.as_ref().map(|c| format!("{c}%")))
                    .bind(q.unit.as_deref().map(code_pattern))
                    .bind(bbox.map(|b| b.min_lon))
                    .bind(bbox.map(|b| b.min_lat))
                    .bind(bbox.map(|b| b.max_lon))
                    .bind(bbox.map(|b| b.max_lat))
                    .bind(&q.after)
                    .bind(q.warning.map(|w| w.as_str()))
                    .bind(q.now)
                    .bind(q.supervision_queue)
                    .bind(q.limit)
                    .bind(q.submitted_from)
                    .bind(q.submitted_until)
                    .fetch_all(self.pool())
                    .await?)
            }

            async fn events_received_between(
                &self,
                from: chrono::NaiveDate,
                to: chrono::NaiveDate,
            ) -> StoreResult<Vec<(String, String, StoredEvent)>> {
                let rows: Vec<CaseEventRow> = sqlx::query_as(SELECT_EVENTS_RECEIVED)
                    .bind(from)
                    .bind(to)
                    .fetch_all(self.pool())
                    .await?;
                rows.into_iter()
                    .map(|r| {
                        let e = r.event.decode(&r.case_id)?;
                        Ok((r.case_id, r.category, e))
                    })
                    .collect()
            }

            async fn merged_cases(&self, master: &str) -> StoreResult<Vec<MergedCase>> {
                Ok(sqlx::query_as(SELECT_MERGED)
                    .bind(master)
                    .fetch_all(self.pool())
                    .await?)
            }

            async fn due_for_escalation(
                &self,
                now: DateTime<Utc>,
                limit: i64,
            ) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar(SELECT_DUE)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?)
            }
        }
    };
}

impl_case_store!(PgStore, "begin", " for update");
// `begin immediate` takes SQLite's write lock at once: the master's row read inside the
// transaction cannot change before the commit (a deferred transaction would read a
// snapshot and could not upgrade it once another writer committed).
impl_case_store!(SqliteStore, "begin immediate", "");
