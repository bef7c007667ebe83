//! The plugin runtime: the only module that knows wasmtime.
//!
//! One [`Runtime`] owns the `Engine` (pooling allocator, epoch interruption),
//! the `Linker` with the host imports and a deny-everything WASI, and the
//! on-disk cache of precompiled components. [`Runtime::load`] turns component
//! bytes into a [`LoadedPlugin`] (compiled once, `InstancePre` ready, roles
//! found from the exports, manifest checked). Every call gets a fresh `Store`
//! with a deadline, a memory cap and capped stdio, and every failure comes
//! back as a [`PluginError`] naming the plugin and the [`FailureKind`].

mod cache;
pub mod compile;
mod error;
mod host;
pub mod limits;
mod runtime;
mod wit;

pub use cache::CacheOutcome;
pub use compile::CompileLimits;
pub use error::{FailureKind, PluginError};
pub use host::{KV_QUOTA, KvError, KvFuture, KvScope, KvStore, MemoryKv, PluginConfig};
pub use limits::Limits;
pub use runtime::{CallContext, ComponentInfo, LoadedPlugin, Runtime, RuntimeConfig};
pub use wit::{WIT_VERSION, WIT_VERSIONS};
