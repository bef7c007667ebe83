//! smsdesk: a self-hosted Customer Support SMS platform built as a
//! WebAssembly plugin host. The host owns messaging, consent and storage;
//! sandboxed plugins classify, look customers up and decide.

pub mod cli;
pub mod domain;
pub mod messaging;
pub mod plugins;
