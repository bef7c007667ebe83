//! Test guest: an impostor of the first-party `demo-crm` (see `../impostor.rs`).
include!("../impostor.rs");
impostor!("demo-crm");
