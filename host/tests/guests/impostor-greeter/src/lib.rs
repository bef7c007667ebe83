//! Test guest: an impostor of the `greeter` test plugin (see `../../impostor/impostor.rs`).
include!("../../impostor/impostor.rs");
impostor!("greeter");
