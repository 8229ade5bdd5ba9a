//! Exports of reports as GeoParquet or Arrow (issue 12): the store is read in pages in
//! case-id order (the keyset the OGC `reports` collection pages with), each page encoded and
//! sent before the next is read, so memory stays flat however many reports match. The same
//! stream serves `GET /v1/export/reports.{parquet,arrow}` and `citysnap export`.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::domain::analytics::disclosure::coarsened;
use crate::domain::analytics::export::{
    Encoder, ExportError, ExportFormat, ExportView, ExportedReport,
};
use crate::store::{CaseQuery, CaseScope, IndexedCase, Store, StoreError};

/// Reports read from the store at a time.
pub const PAGE_ROWS: i64 = 10_000;

/// Which reports to export and how the caller sees them.
#[derive(Debug, Clone)]
pub struct ExportQuery {
    /// `None`: the public view (coarsened points, no ids); staff: their scope.
    pub scope: Option<CaseScope>,
    /// Days in the deployment's time zone, inclusive.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// A category code or prefix.
    pub category: Option<String>,
    /// A unit code: reports located in it (or targeted at it).
    pub unit: Option<String>,
    /// Any of these case states; empty: every state.
    pub states: Vec<String>,
    pub timezone: FixedOffset,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportFailed {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Encode(#[from] ExportError),
}

impl ExportQuery {
    pub fn view(&self) -> ExportView {
        if self.scope.is_some() {
            ExportView::Staff
        } else {
            ExportView::Public
        }
    }

    /// The first instant of `day` in the deployment's time zone.
    fn start_of(&self, day: NaiveDate) -> DateTime<Utc> {
        let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        (local - Duration::seconds(i64::from(self.timezone.local_minus_utc()))).and_utc()
    }

    fn page(&self, after: Option<String>, now: DateTime<Utc>) -> CaseQuery {
        CaseQuery {
            scope: self.scope.clone().unwrap_or(CaseScope::All),
            states: self.states.clone(),
            warning: None,
            unit: self.unit.clone(),
            category: self.category.clone(),
            bbox: None,
            supervision_queue: false,
            now,
            limit: PAGE_ROWS,
            after,
            submitted_from: self.from.map(|d| self.start_of(d)),
            submitted_until: self
                .to
                .and_then(|d| d.succ_opt())
                .map(|d| self.start_of(d) - Duration::milliseconds(1)),
        }
    }

    fn row(&self, r: &IndexedCase, now: DateTime<Utc>) -> ExportedReport {
        let day = r.submitted_at.with_timezone(&self.timezone).date_naive();
        if self.scope.is_none() {
            let (lon, lat) = coarsened(r.lon, r.lat).unwrap_or((r.lon, r.lat));
            return ExportedReport {
                case_id: None,
                category: r.category.clone(),
                state: r.state.clone(),
                submitted_at: r.submitted_at,
                day,
                district: None,
                street: None,
                community: r.community.clone(),
                grid: r.grid.clone(),
                target: None,
                deadline_at: None,
                warning: None,
                lon,
                lat,
            };
        }
        let warning = serde_json::to_value(r.warning_level(now))
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned));
        ExportedReport {
            case_id: Some(r.case_id.clone()),
            category: r.category.clone(),
            state: r.state.clone(),
            submitted_at: r.submitted_at,
            day,
            district: r.district.clone(),
            street: r.street.clone(),
            community: r.community.clone(),
            grid: r.grid.clone(),
            target: r.target.clone(),
            deadline_at: r.deadline_at,
            warning,
            lon: r.lon,
            lat: r.lat,
        }
    }
}

/// The export as a stream of byte chunks; an error ends the stream (the client sees a
/// truncated file, which no Parquet or Arrow reader accepts).
pub fn stream(
    store: Arc<dyn Store>,
    query: ExportQuery,
    format: ExportFormat,
) -> ReceiverStream<Result<Bytes, ExportFailed>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        if let Err(e) = produce(&*store, &query, format, &tx).await {
            tracing::error!(error = %e, "export failed");
            let _ = tx.send(Err(e)).await;
        }
    });
    ReceiverStream::new(rx)
}

async fn produce(
    store: &dyn Store,
    query: &ExportQuery,
    format: ExportFormat,
    tx: &mpsc::Sender<Result<Bytes, ExportFailed>>,
) -> Result<(), ExportFailed> {
    let mut encoder = Encoder::new(format, query.view())?;
    let now = Utc::now();
    let mut after = None;
    loop {
        let rows = store.list_cases(&query.page(after.take(), now)).await?;
        let full = rows.len() as i64 == PAGE_ROWS;
        after = rows.last().map(|r| r.case_id.clone());
        let page: Vec<_> = rows.iter().map(|r| query.row(r, now)).collect();
        let bytes = encoder.write(&page)?;
        if !bytes.is_empty() && tx.send(Ok(Bytes::from(bytes))).await.is_err() {
            return Ok(()); // the client went away
        }
        if !full {
            break;
        }
    }
    let rows = encoder.rows();
    let last = encoder.finish()?;
    let _ = tx.send(Ok(Bytes::from(last))).await;
    tracing::info!(rows, format = format.extension(), "export done");
    Ok(())
}
