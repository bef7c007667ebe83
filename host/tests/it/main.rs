//! The host's integration tests: one binary, a module per area.

mod admin;
mod broker;
mod cli;
mod consent;
mod consent_property;
mod exactly_once;
mod host;
mod hostile;
mod inbox;
mod languages;
mod leases;
mod loading;
mod plugin_authoring;
mod plugin_http;
mod postgres;
mod replicas;
mod reports;
mod restart;
mod sandbox;
mod schema_fuzz;
mod shared_state;
mod support;
mod tickets;
mod tidy;
mod webhook_edges;
