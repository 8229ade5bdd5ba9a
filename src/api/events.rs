//! Live case events for dispatch consoles: `GET /v1/events/stream` (Server-Sent Events),
//! each caller seeing only the cases in its scope (issue 3, "Live updates").
//!
//! Every appended event becomes a [`Notice`] on the service's broadcast channel. On the
//! embedded store the writer publishes it directly; on PostGIS the append's transaction
//! sends `NOTIFY citysnap_case_events` and every replica's listener (this one included)
//! turns it into a notice, so a console connected to any replica sees every change.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::auth::{Caller, sees, signed_in};
use super::error::Problem;
use super::{ApiError, AppState};
use crate::domain::workflow::case::fold;
use crate::store::IndexedCase;

/// One change of a case, as consoles receive it (the data of an `event: case` message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notice {
    pub case_id: String,
    pub seq: i32,
    pub action: String,
    pub state: String,
    pub at: DateTime<Utc>,
    /// The case as its index row stands when the notice is sent, for scoping.
    #[serde(skip)]
    pub case: Option<IndexedCase>,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events/stream", signed_in(get(stream)))
}

/// `GET /v1/events/stream`: `event: case` messages with a [`Notice`] as JSON, for the cases
/// the caller may see; a comment every 15 s keeps proxies from closing the stream.
#[utoipa::path(get, path = "/v1/events/stream", tag = "cases", security(("bearer" = [])),
    responses(
        (status = 200, description = "Server-Sent Events: `event: case`, `id: {case_id}:{seq}`, \
            `data:` a `Notice` as JSON; the stream stays open", body = String, content_type = "text/event-stream"),
        (status = 403, description = "`forbidden`: a planner sees aggregates only", body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn stream(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let p = caller.principal()?.clone();
    if super::auth::case_scope(&p).is_none() {
        return Err(ApiError::Forbidden(format!(
            "a {} sees aggregates only, not cases",
            p.role
        )));
    }
    let rx = state.notices.subscribe();
    let events = BroadcastStream::new(rx).filter_map(move |n| {
        // A lagging subscriber skips what it missed; consoles re-read lists on reconnect.
        let n = n.ok()?;
        let visible = n.case.as_ref().is_some_and(|c| sees(&p, c));
        visible.then(|| {
            Ok(SseEvent::default()
                .event("case")
                .id(format!("{}:{}", n.case_id, n.seq))
                .json_data(&n)
                .unwrap_or_else(|_| SseEvent::default().comment("unserialisable notice")))
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Builds the notice of event `seq` of `case_id` from the store and broadcasts it.
pub(super) async fn announce(state: &AppState, case_id: &str, seq: i32) -> Result<(), ApiError> {
    let Some(case) = state.store.indexed_case(case_id).await? else {
        return Ok(());
    };
    // On PostGIS this is how other replicas' new reports reach this replica's tiles.
    state.tile_cache.touch(case.lon, case.lat);
    let events = state.store.case_events(case_id).await?;
    let Some(e) = events.iter().find(|e| e.seq == seq) else {
        return Ok(());
    };
    // The state right after this event, not the case's current one: intake announces
    // `submit` once `dispatch` is stored too, and a slow listener hears of an event after
    // later ones (issue 8, item 4).
    let after = fold(events.iter().take_while(|e| e.seq <= seq).map(|e| &e.event))
        .map_err(|err| ApiError::Internal(format!("case {case_id} does not fold: {err}")))?;
    state.analytics.note_indexed(&case, local_day(state, &case));
    let notice = Notice {
        case_id: case_id.to_owned(),
        seq,
        action: e.event.action.kind().to_string(),
        state: after.state.to_string(),
        at: e.event.at,
        case: Some(case),
    };
    // No subscriber is not an error.
    let _ = state.notices.send(notice);
    Ok(())
}

/// The local day a case was reported on.
fn local_day(state: &AppState, case: &IndexedCase) -> chrono::NaiveDate {
    case.submitted_at
        .with_timezone(&state.settings.timezone)
        .date_naive()
}

/// Called after events were committed: on PostGIS, `NOTIFY` every replica (this one
/// included) and let their listeners announce; on the embedded store, announce here. A
/// failure loses a live notice, never data: consoles re-read lists when they reconnect.
pub(crate) async fn published(
    state: &AppState,
    case_id: &str,
    seqs: std::ops::RangeInclusive<i32>,
) {
    match state.store.notify_case_events(case_id, seqs.clone()).await {
        // The listener notes the change in the report cube too, but later: a change other
        // than intake (which notes its report itself) is noted here, so that the caller's
        // next heat-map counts it.
        Ok(true) if *seqs.start() > 1 => match state.store.indexed_case(case_id).await {
            Ok(Some(case)) => state.analytics.note_indexed(&case, local_day(state, &case)),
            Ok(None) => {}
            Err(e) => tracing::warn!(case_id, error = %e, "could not note a change for analytics"),
        },
        Ok(true) => {}
        Ok(false) => {
            for seq in seqs {
                if let Err(e) = announce(state, case_id, seq).await {
                    tracing::warn!(case_id, seq, error = %e, "could not announce a case event");
                }
            }
        }
        Err(e) => tracing::warn!(case_id, ?seqs, error = %e, "could not announce case events"),
    }
}

/// On PostGIS, listens for the store's case-event notices and announces each; listens
/// again a second after a lost connection. Nothing to do on the embedded store.
pub fn spawn_pg_listener(state: AppState) {
    if state.store.postgres_pool().is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut reconnected = false;
        loop {
            match state.store.listen_case_events().await {
                Ok(Some(mut listener)) => {
                    // Changes made while no one listened are unknown: draw every tile anew.
                    state.tile_cache.clear();
                    if reconnected && state.settings.analytics_cube {
                        // Changes made while no one listened are in the store only.
                        state.analytics.spawn_load(state.store.clone());
                    }
                    reconnected = true;
                    while let Ok((case_id, seq)) = listener.recv().await {
                        if let Err(e) = announce(&state, &case_id, seq).await {
                            tracing::warn!(case_id, error = %e, "could not announce");
                        }
                    }
                }
                Ok(None) => return,
                Err(e) => tracing::warn!(error = %e, "cannot connect the event listener"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}
