//! Use cases that span the domain and the store (issue 9, "service layer"): each is one
//! function that every protocol adapter (`/v1`, `/ogc`, `/open311`, the CLI) calls, and that
//! a test can call without HTTP. Adapters only parse their wire format and shape the answer.

pub mod analytics;
pub mod categories;
pub mod dispatch_inputs;
pub mod error;
pub mod export;
pub mod held;
pub mod intake;
pub mod workflow;

pub use error::Error;
