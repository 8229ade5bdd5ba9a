//! Services between the HTTP edge and the store: typed inputs, domain results, no axum types,
//! so that several protocols (the JSON API, OGC API Features, Open311, the CLI) share them.

pub mod export;
