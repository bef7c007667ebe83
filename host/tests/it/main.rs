//! The host's integration tests: one binary, a module per area.

mod cli;
mod loading;
mod sandbox;
mod support;
mod tidy;
