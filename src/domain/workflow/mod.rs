//! What happens to a report: its category ([`categories`]) and handling department
//! ([`departments`]), the plan library that dispatches it ([`dispatch`]) to a [`target`],
//! the case state machine ([`case`]), its deadlines on the working calendar
//! ([`calendar`]), who may see and act on it ([`access`]) and the reward for a verified
//! report ([`rewards`]).

pub mod access;
pub mod calendar;
pub mod case;
pub mod categories;
pub mod departments;
pub mod dispatch;
pub mod rewards;
pub mod target;
