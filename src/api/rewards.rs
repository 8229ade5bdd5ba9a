//! Rewards (issue 3, "Rewards"): a registered resident earns the category's points (and
//! cash, where the city offers it) once the report proves real — at the grid worker's
//! verification for categories that need one, else when the case is first closed.
//! Duplicates (merged), invalid reports, praise and consultations earn nothing, and a daily
//! cap per resident applies. Cash is exported for the city's payment system, never paid here.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, signed_in};
use super::error::Problem;
use super::{ApiError, ApiQuery, AppState};
use crate::domain::workflow::case::Role;
use crate::store::LedgerRow;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/me/rewards", signed_in(get(mine)))
        .route("/v1/rewards/export", signed_in(get(export)))
}

/// Local days, inclusive; open ends are unbounded.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct Period {
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
}

/// A resident's ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ledger {
    /// Points credited in the period.
    points: i64,
    /// Cash credited in the period, fen (exported for the city's payment system).
    cash_fen: i64,
    /// The credits, oldest first.
    entries: Vec<LedgerRow>,
}

impl Period {
    fn bounds(&self) -> Result<(NaiveDate, NaiveDate), ApiError> {
        // Open ends as the widest dates both databases order correctly.
        let from = self
            .from
            .unwrap_or(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default());
        let to = self
            .to
            .unwrap_or(NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default());
        if from > to {
            return Err(ApiError::InvalidField {
                code: "invalid_date_range",
                detail: format!("from {from} is after to {to}"),
            });
        }
        Ok((from, to))
    }
}

/// `GET /v1/me/rewards[?from=&to=]`: the resident's ledger and totals.
#[utoipa::path(get, path = "/v1/me/rewards", tag = "rewards", params(Period), security(("bearer" = [])),
    responses(
        (status = 200, description = "The resident's credits", body = Ledger),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a resident", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_date_range`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn mine(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(period): ApiQuery<Period>,
) -> Result<Json<Ledger>, ApiError> {
    let p = caller.with_role(&[Role::Resident], "have a rewards ledger")?;
    let (from, to) = period.bounds()?;
    let rows = state.store.ledger(Some(&p.id), from, to).await?;
    let points: i64 = rows.iter().map(|r| i64::from(r.points)).sum();
    let cash: i64 = rows.iter().map(|r| i64::from(r.cash_fen)).sum();
    Ok(Json(Ledger {
        points,
        cash_fen: cash,
        entries: rows,
    }))
}

/// The export's columns, in the order [`LedgerRow`] serialises its fields.
const LEDGER_COLUMNS: [&str; 7] = [
    "case_id", "resident", "category", "at", "day", "points", "cash_fen",
];

/// `GET /v1/rewards/export?from=&to=` (admin): the ledger as CSV for the city's payment
/// system: `case_id,resident,category,at,day,points,cash_fen`.
#[utoipa::path(get, path = "/v1/rewards/export", tag = "rewards", params(Period), security(("bearer" = [])),
    responses(
        (status = 200, description = "One line per credit (with a header line when there is one)",
            body = String, content_type = "text/csv"),
        (status = 400, description = "`invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_date_range`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(period): ApiQuery<Period>,
) -> Result<impl IntoResponse, ApiError> {
    caller.with_role(&[Role::Admin], "export the rewards ledger")?;
    let (from, to) = period.bounds()?;
    let rows = state.store.ledger(None, from, to).await?;
    // The header is written by hand: `csv` writes it with the first record only, so an
    // empty period would come out as 0 bytes instead of a CSV without rows (RFC 4180 §2.3).
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(LEDGER_COLUMNS)
        .map_err(|e| ApiError::Internal(format!("csv: {e}")))?;
    for r in &rows {
        w.serialize(r)
            .map_err(|e| ApiError::Internal(format!("csv: {e}")))?;
    }
    let body = w
        .into_inner()
        .map_err(|e| ApiError::Internal(format!("csv: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_header_names_the_ledger_fields_in_order() {
        let row = LedgerRow {
            case_id: "XL-20260315-000001".into(),
            resident: "u-1".into(),
            category: "0106".into(),
            at: chrono::Utc::now(),
            day: NaiveDate::from_ymd_opt(2026, 3, 15).unwrap_or_default(),
            points: 3,
            cash_fen: 0,
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(&row).expect("serialise");
        let text = String::from_utf8(w.into_inner().expect("flush")).expect("utf-8");
        assert_eq!(text.lines().next(), Some(LEDGER_COLUMNS.join(",").as_str()));
    }
}
