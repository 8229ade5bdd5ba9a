//! What replicas tell each other through the database (issue 9: no `sqlx` outside the
//! store): on PostGIS, `NOTIFY`/`LISTEN` on one channel for committed case events, and
//! session advisory locks for jobs only one replica should run at a time. The embedded
//! store is one process: it has no channel (the caller announces events itself) and every
//! lock is granted.

use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgListener;

use super::StoreResult;

/// The channel of committed case events; the payload is `case_id:seq`.
pub const CASE_EVENTS_CHANNEL: &str = "citysnap_case_events";

/// A `LISTEN` on [`CASE_EVENTS_CHANNEL`].
pub struct CaseEventListener(pub(super) PgListener);

impl CaseEventListener {
    /// The next committed event, as `(case_id, seq)`; payloads of another shape are
    /// skipped. An error means the connection is gone (listen again).
    pub async fn recv(&mut self) -> StoreResult<(String, i32)> {
        loop {
            let n = self.0.recv().await?;
            if let Some((case_id, seq)) = n.payload().rsplit_once(':')
                && let Ok(seq) = seq.parse()
            {
                return Ok((case_id.to_owned(), seq));
            }
            tracing::warn!(payload = n.payload(), "ignored a notice of another shape");
        }
    }
}

/// A job lock held until [`JobLock::release`]: on PostGIS a session advisory lock on one
/// pooled connection, kept out of the pool while held.
pub struct JobLock {
    pub(super) held: Option<(PoolConnection<Postgres>, i64)>,
}

impl JobLock {
    /// The lock of a one-process store.
    pub(super) fn local() -> Self {
        Self { held: None }
    }

    pub async fn release(self) -> StoreResult<()> {
        if let Some((mut conn, key)) = self.held {
            sqlx::query("select pg_advisory_unlock($1)")
                .bind(key)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}
