//! What auto-dispatch reads besides the report, held in memory (issue 9, "intake at speed"):
//! the plan library's rules in force and the staffed departments, so that intake does not
//! read them from the database for every report.
//!
//! Like [`crate::service::categories::CategoryCache`], which this follows: a change through
//! this process's API ([`DispatchInputs::changed`]: `PUT /v1/dispatch-rules`, `POST
//! /v1/tokens`) is seen by the very next report; a change made elsewhere (another replica,
//! the CLI) within [`DispatchInputs::TTL`].
//!
//! Who a case is assigned to is not held here: it depends on each person's open cases, which
//! every dispatch changes, so it is read at each dispatch.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::api::AppState;
use crate::domain::workflow::dispatch::DispatchRule;
use crate::service::error::Result;

/// The rules in force and the departments at least one handler works for.
#[derive(Debug)]
pub struct Inputs {
    pub rules: Vec<DispatchRule>,
    pub staffed_departments: Vec<String>,
}

/// The dispatch inputs as last read from the store.
#[derive(Default)]
pub struct DispatchInputs {
    held: RwLock<Held>,
}

#[derive(Default)]
struct Held {
    /// Bumped by every change, so that a read begun before a change does not install what
    /// it read as current.
    generation: u64,
    loaded: Option<(Instant, Arc<Inputs>)>,
}

impl DispatchInputs {
    /// How long a read stands for changes made by other processes.
    pub const TTL: Duration = Duration::from_secs(5);

    /// The inputs; read from the store only when none are held, after a change, or once
    /// they are older than [`Self::TTL`].
    pub async fn get(&self, state: &AppState) -> Result<Arc<Inputs>> {
        let generation = {
            let held = self.held.read().unwrap_or_else(|p| p.into_inner());
            if let Some((at, inputs)) = &held.loaded
                && at.elapsed() < Self::TTL
            {
                return Ok(inputs.clone());
            }
            held.generation
        };
        let (_, rules) = crate::api::plan::rules_in_force(state).await?;
        let staffed_departments = state.store.staffed_departments().await?;
        let inputs = Arc::new(Inputs {
            rules,
            staffed_departments,
        });
        let mut held = self.held.write().unwrap_or_else(|p| p.into_inner());
        if held.generation == generation {
            held.loaded = Some((Instant::now(), inputs.clone()));
        }
        Ok(inputs)
    }

    /// Forgets what is held after the plan or the staff changed: the next read goes to the
    /// store.
    pub fn changed(&self) {
        let mut held = self.held.write().unwrap_or_else(|p| p.into_inner());
        held.generation += 1;
        held.loaded = None;
    }
}
