//! smsdesk: a self-hosted Customer Support SMS platform built as a
//! WebAssembly plugin host. The host owns messaging, consent and storage;
//! sandboxed plugins classify, look customers up and decide.
//!
//! A guided tour: [`server`] wires everything; [`http`] receives webhooks;
//! [`pipeline`] runs the inbound flow stage by stage; [`plugins`] runs the
//! sandboxed components; [`messaging`] owns what goes over the wire; [`store`]
//! owns SQL.

pub mod broker;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod consent;
pub mod demo;
pub mod domain;
pub mod events;
pub mod http;
pub mod messaging;
pub mod metrics;
pub mod pipeline;
pub mod plugins;
pub mod plugintest;
pub mod replay;
pub mod reports;
pub mod scaffold;
pub mod server;
pub mod store;
pub mod tenants;
pub mod tickets;
