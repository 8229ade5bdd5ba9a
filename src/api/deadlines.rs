//! The deadline job (issue 3, "Deadlines, warnings, supervision"): records
//! `escalated_yellow` once a case's deadline has passed and `escalated_red` once it is past
//! its red margin, exactly once per deadline, however many replicas run the job.
//!
//! Exactly once comes from the case log itself: an escalation is appended like any event,
//! as the log's next number after re-checking the fold (which refuses a second yellow or
//! red for the same deadline), and the `(case_id, seq)` key lets only one of two racing
//! writers store it. On PostGIS a session advisory lock also keeps replicas from sweeping
//! at the same moment, so they do not duplicate the work of reading.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{ApiError, AppState};
use crate::domain::workflow::calendar::WarningLevel;
use crate::domain::workflow::case::{Action, Event, Role};
use crate::service::workflow::{SYSTEM, append_checked};

/// Advisory lock key of the sweep (any constant unique to this job).
const SWEEP_LOCK: i64 = 0x6369_7479_736e_6170; // "citysnap"
/// Cases escalated per sweep at most; the rest wait for the next tick.
const SWEEP_BATCH: i64 = 500;

/// One pass: escalates every due case. Returns how many events were recorded, or `None`
/// when another replica holds the sweep lock.
pub async fn sweep(state: &AppState, now: DateTime<Utc>) -> Result<Option<usize>, ApiError> {
    let Some(lock) = state.store.try_job_lock(SWEEP_LOCK).await? else {
        return Ok(None);
    };
    let result = escalate_due(state, now).await;
    lock.release().await?;
    result.map(Some)
}

async fn escalate_due(state: &AppState, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let cal = &state.settings.calendar;
    let mut recorded = 0;
    for case_id in state.store.due_for_escalation(now, SWEEP_BATCH).await? {
        // Yellow, then red if it is due too (after a pause of the job, both can be).
        for _ in 0..2 {
            let before = state.store.case_events(&case_id).await?.len();
            let (events, _) = append_checked(state, &case_id, |case| {
                let Some(level) = case.warning_level(now, cal, state.settings.red_margin) else {
                    return Ok(None);
                };
                let action = match level {
                    WarningLevel::Green => None,
                    _ if !case.escalated_yellow => Some(Action::EscalatedYellow),
                    WarningLevel::Red if !case.escalated_red => Some(Action::EscalatedRed),
                    _ => None,
                };
                Ok(action.map(|action| Event {
                    actor: SYSTEM.into(),
                    role: Role::System,
                    at: now.max(case.updated_at),
                    action,
                    reason: None,
                }))
            })
            .await?;
            if events.len() == before {
                break;
            }
            recorded += 1;
        }
    }
    Ok(recorded)
}

/// Runs [`sweep`] every `every` until the process ends; errors are logged, not fatal.
pub fn spawn(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sweep(&state, Utc::now()).await {
                Ok(Some(n)) if n > 0 => tracing::info!(escalations = n, "deadline job"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deadline job failed"),
            }
        }
    })
}
