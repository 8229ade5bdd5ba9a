//! The case log in the store (issue 3): the append-only `case_events` table, one row per
//! [`Event`], numbered 1, 2, 3 … per case. The current state is never stored; callers fold
//! the log ([`crate::domain::case::fold`]).
//!
//! Appends are optimistic: the caller folds the log it read, checks the new event against
//! that state, and appends it as the next number. The primary key `(case_id, seq)` makes
//! a concurrent writer that read the same log lose with [`Appended::SeqTaken`]; it re-reads
//! and checks again (or answers 409), so no event is ever judged against a stale state.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{PgStore, SqliteStore, StoreError, StoreResult};
use crate::domain::case::Event;

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
}

/// The case log, on both backends.
#[async_trait]
pub trait CaseStore: Send + Sync {
    /// The case's events in order; empty when there is no such case.
    async fn case_events(&self, case_id: &str) -> StoreResult<Vec<StoredEvent>>;

    /// Appends `event` as number `seq`: one more than the last event the caller folded.
    async fn append_event(&self, case_id: &str, seq: i32, event: &Event) -> StoreResult<Appended>;
}

/// Statements that read the same on both backends.
pub(super) const INSERT_EVENT: &str =
    "insert into case_events (case_id, seq, at, actor, role, action, reason, payload)
     values ($1, $2, $3, $4, $5, $6, $7, $8)";
const SELECT_EVENTS: &str = "select seq, at, actor, role, action, reason, payload
     from case_events where case_id = $1 order by seq";

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

/// The same statements on either pool; a macro because the backends' pool types differ.
macro_rules! impl_case_store {
    ($store:ty) => {
        #[async_trait]
        impl CaseStore for $store {
            async fn case_events(&self, case_id: &str) -> StoreResult<Vec<StoredEvent>> {
                let rows: Vec<EventRow> = sqlx::query_as(SELECT_EVENTS)
                    .bind(case_id)
                    .fetch_all(self.pool())
                    .await?;
                rows.into_iter().map(|r| r.decode(case_id)).collect()
            }

            async fn append_event(
                &self,
                case_id: &str,
                seq: i32,
                event: &Event,
            ) -> StoreResult<Appended> {
                let c = event_columns(event)?;
                let inserted = sqlx::query(INSERT_EVENT)
                    .bind(case_id)
                    .bind(seq)
                    .bind(event.at)
                    .bind(&event.actor)
                    .bind(c.role)
                    .bind(c.action)
                    .bind(c.reason)
                    .bind(c.payload)
                    .execute(self.pool())
                    .await;
                match inserted {
                    Ok(_) => Ok(Appended::Stored),
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        Ok(Appended::SeqTaken)
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    };
}

impl_case_store!(PgStore);
impl_case_store!(SqliteStore);
