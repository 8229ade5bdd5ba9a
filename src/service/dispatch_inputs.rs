//! What auto-dispatch reads besides the report, held in memory (issue 9, "intake at speed"):
//! the plan library's rules in force and the staffed departments, so that intake does not
//! read them from the database for every report.
//!
//! Held like the categories ([`crate::service::held`]): a change through this process's API
//! ([`DispatchInputs::changed`]: `PUT /v1/dispatch-rules`, `POST /v1/tokens`) is seen by the
//! very next report; a change made elsewhere (another replica, the CLI) within
//! [`crate::service::held::TTL`].
//!
//! Who a case is assigned to is not held here: it depends on each person's open cases, which
//! every dispatch changes, so it is read at each dispatch.

use std::sync::Arc;

use crate::api::AppState;
use crate::domain::workflow::dispatch::DispatchRule;
use crate::service::error::Result;
use crate::service::held::Held;

/// The rules in force and the departments at least one handler works for.
#[derive(Debug)]
pub struct Inputs {
    pub rules: Vec<DispatchRule>,
    pub staffed_departments: Vec<String>,
}

/// The dispatch inputs as last read from the store.
#[derive(Default)]
pub struct DispatchInputs {
    held: Held<Inputs>,
}

impl DispatchInputs {
    /// The inputs; read from the store only when none are held, after a change, or once
    /// they are older than the TTL.
    pub async fn get(&self, state: &AppState) -> Result<Arc<Inputs>> {
        self.held
            .get(|| async {
                let (_, rules) = crate::api::plan::rules_in_force(state).await?;
                let staffed_departments = state.store.staffed_departments().await?;
                Ok(Arc::new(Inputs {
                    rules,
                    staffed_departments,
                }))
            })
            .await
    }

    /// Forgets what is held after the plan or the staff changed: the next read goes to the
    /// store.
    pub fn changed(&self) {
        self.held.changed();
    }
}
