//! `GET /v1/stats?from=&to=&group_by=unit|category` (issue 3, "Indicators"): the standard
//! evaluation figures of the 数字城管 standards over the cases received from `from` to `to`
//! (local days, inclusive), evaluated at the end of the period (or now, if earlier).
//!
//! Definitions (see `src/domain/analytics/indicators.rs`, each checked by tests on hand-computed cases):
//! - `received` 受理数: every case received in the period.
//! - `filed` 立案数: verified, or dispatched without verification; not merged or cancelled.
//! - `dispatched` 派遣数: filed cases dispatched at least once.
//! - `closed` 结案数: filed cases closed at the evaluation instant.
//! - `due` 应结案数: filed cases past their deadline, plus those closed before it came.
//! - `closure_rate` 结案率 = closed / due; `on_time_rate` 按期结案率 = closed on time / due.
//! - `rework_rate` 返工率 = reworked / handled (handled: resolved at least once).
//! - `returns` 退回 (per return), `parked` 挂账 (parked now).
//! - `median_time_to_close_s`, `p90_time_to_close_s` (nearest rank), `mean_satisfaction`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::analytics::day;
use super::auth::{Caller, signed_in};
use super::error::Problem;
use super::{ApiError, ApiQuery, AppState};
use crate::domain::analytics::indicators::{CaseSummary, Indicators, indicators, indicators_by};
use crate::domain::workflow::case::{Role, fold};
use crate::domain::workflow::categories::CategoryCode;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/stats", signed_in(get(stats)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct StatsQuery {
    /// First local day of the period (cases received from then).
    #[param(value_type = String, format = Date, example = "2026-11-01")]
    from: String,
    /// Last local day, inclusive; the period is at most 366 days.
    #[param(value_type = String, format = Date, example = "2026-11-30")]
    to: String,
    /// Also the figures per `unit` (the case's target) or per `category`.
    #[serde(default)]
    #[param(value_type = Option<GroupBy>, inline)]
    group_by: Option<String>,
}

/// What `group_by` splits the figures by.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Unit,
    Category,
}

/// The indicators of one group.
#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    /// The target unit or department code (`null`: cases not dispatched), or the category
    /// code.
    key: Option<String>,
    #[serde(flatten)]
    indicators: Indicators,
}

/// The evaluation figures of a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsBody {
    #[schema(value_type = String, format = Date)]
    from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    to: NaiveDate,
    /// The instant the figures hold at: the period's end, or now if earlier.
    as_of: chrono::DateTime<Utc>,
    total: Indicators,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_by: Option<GroupBy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<Group>>,
}

/// Longest period one request may cover.
const MAX_DAYS: i64 = 366;

/// `GET /v1/stats` (planner, leader, dispatcher, admin).
#[utoipa::path(get, path = "/v1/stats", tag = "analytics", params(StatsQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "The figures of the period", body = StatsBody),
        (status = 400, description = "`invalid_query`: from or to missing or not dates", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: a role that reads no indicators", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_date_range` (from after to, over 366 days), `invalid_group_by`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json<StatsBody>, ApiError> {
    caller.with_role(
        &[Role::Planner, Role::Leader, Role::Dispatcher, Role::Admin],
        "read indicators",
    )?;
    let (from, to) = (day("from", &q.from)?, day("to", &q.to)?);
    if from > to || (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::InvalidField {
            code: "invalid_date_range",
            detail: format!("from must not be after to, and a period is at most {MAX_DAYS} days"),
        });
    }
    let group_by = match q.group_by.as_deref() {
        None => None,
        Some("unit") => Some(GroupBy::Unit),
        Some("category") => Some(GroupBy::Category),
        Some(other) => {
            return Err(ApiError::InvalidField {
                code: "invalid_group_by",
                detail: format!("group_by must be unit or category, got {other:?}"),
            });
        }
    };
    let tz = state.settings.timezone;
    let end = tz
        .from_local_datetime(&to.and_time(NaiveTime::MIN))
        .single()
        .map(|t| t.with_timezone(&Utc) + chrono::TimeDelta::days(1))
        .ok_or_else(|| ApiError::Internal("period end".into()))?;
    let as_of = end.min(Utc::now());
    let rows = state.store.events_received_between(from, to).await?;
    let mut summaries = Vec::new();
    for chunk in rows.chunk_by(|a, b| a.0 == b.0) {
        let (case_id, category, _) = &chunk[0];
        let case = fold(chunk.iter().map(|(_, _, e)| &e.event))
            .map_err(|e| ApiError::Internal(format!("case {case_id} does not fold: {e}")))?;
        let category = CategoryCode::parse(category)
            .map_err(|e| ApiError::Internal(format!("case {case_id}: {e}")))?;
        summaries.push(CaseSummary::of(&case, category));
    }
    let groups = group_by.map(|by| {
        let groups = match by {
            GroupBy::Unit => indicators_by(&summaries, as_of, |c| {
                c.unit.as_ref().map(|t| t.code().to_owned())
            }),
            GroupBy::Category => {
                indicators_by(&summaries, as_of, |c| Some(c.category.as_str().to_owned()))
            }
        };
        groups
            .into_iter()
            .map(|(key, indicators)| Group { key, indicators })
            .collect()
    });
    let body = StatsBody {
        from,
        to,
        as_of,
        total: indicators(&summaries, as_of),
        group_by,
        groups,
    };
    Ok(Json(body))
}
