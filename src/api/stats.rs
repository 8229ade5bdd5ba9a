//! `GET /v1/stats?from=&to=&group_by=unit|category` (issue 3, "Indicators"): the standard
//! evaluation figures of the 数字城管 standards over the cases received from `from` to `to`
//! (local days, inclusive), evaluated at the end of the period (or now, if earlier).
//!
//! Definitions (see `src/domain/indicators.rs`, each checked by tests on hand-computed cases):
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
use chrono::{NaiveTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::analytics::day;
use super::auth::{Caller, signed_in};
use super::{ApiError, ApiQuery, AppState};
use crate::domain::case::{Role, fold};
use crate::domain::categories::CategoryCode;
use crate::domain::indicators::{CaseSummary, indicators, indicators_by};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/stats", signed_in(get(stats)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    from: String,
    to: String,
    #[serde(default)]
    group_by: Option<String>,
}

/// Longest period one request may cover.
const MAX_DAYS: i64 = 366;

async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json<Value>, ApiError> {
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
    let by_unit = match q.group_by.as_deref() {
        None => None,
        Some("unit") => Some(true),
        Some("category") => Some(false),
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
    let mut body = json!({
        "from": from, "to": to, "as_of": as_of,
        "total": indicators(&summaries, as_of),
    });
    if let Some(by_unit) = by_unit {
        let groups = if by_unit {
            indicators_by(&summaries, as_of, |c| {
                c.unit.as_ref().map(|t| t.code().to_owned())
            })
        } else {
            indicators_by(&summaries, as_of, |c| Some(c.category.as_str().to_owned()))
        };
        body["group_by"] = json!(if by_unit { "unit" } else { "category" });
        body["groups"] = groups
            .into_iter()
            .map(|(key, ind)| {
                let mut v = json!(ind);
                v["key"] = json!(key);
                v
            })
            .collect();
    }
    Ok(Json(body))
}
