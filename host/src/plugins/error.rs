//! Plugin failures as one typed error.

use crate::domain::Role;
use std::fmt;

/// What went wrong in a plugin call or load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The bytes are not a usable component (not Wasm, a core module, corrupt,
    /// imports the host does not offer, exports no role, bad manifest).
    InvalidComponent,
    /// The plugin does not export the role that was called.
    MissingRole,
    /// The host refused the input before calling (too large).
    InvalidInput,
    /// Instantiation failed.
    Instantiate,
    /// The guest trapped (unreachable, out-of-bounds, stack overflow, ...).
    Trap,
    /// The guest panicked (a trap preceded by a panic message).
    Panic,
    /// The call ran past its deadline.
    Deadline,
    /// The guest tried to grow memory past its cap.
    Memory,
    /// The guest returned something the host does not accept (too big, out of range).
    InvalidOutput,
    /// The guest returned a WIT `plugin-error`.
    Guest,
    /// Not called: the binding is suspended after repeated failures (circuit breaker).
    Suspended,
}

impl FailureKind {
    /// Stable kebab-case name, used in traces and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::InvalidComponent => "invalid-component",
            FailureKind::MissingRole => "missing-role",
            FailureKind::InvalidInput => "invalid-input",
            FailureKind::Instantiate => "instantiate",
            FailureKind::Trap => "trap",
            FailureKind::Panic => "panic",
            FailureKind::Deadline => "deadline",
            FailureKind::Memory => "memory",
            FailureKind::InvalidOutput => "invalid-output",
            FailureKind::Guest => "guest-error",
            FailureKind::Suspended => "suspended",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed plugin load or call: which plugin, which role, what kind, details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// The plugin's name (or the file/label it was loaded from before its manifest was known).
    pub plugin: String,
    /// The role that was called, if the failure happened in a call.
    pub role: Option<Role>,
    /// The kind of failure.
    pub kind: FailureKind,
    /// Human-readable details (never more than a few hundred characters).
    pub detail: String,
}

impl PluginError {
    pub(crate) fn new(
        plugin: impl Into<String>,
        role: Option<Role>,
        kind: FailureKind,
        detail: impl Into<String>,
    ) -> Self {
        let mut detail = detail.into();
        truncate_chars(&mut detail, 600);
        PluginError { plugin: plugin.into(), role, kind, detail }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.role {
            Some(role) => write!(f, "plugin `{}` ({role}): {}: {}", self.plugin, self.kind, self.detail),
            None => write!(f, "plugin `{}`: {}: {}", self.plugin, self.kind, self.detail),
        }
    }
}

impl std::error::Error for PluginError {}

/// Cut `s` to at most `max` characters, marking the cut.
pub(crate) fn truncate_chars(s: &mut String, max: usize) {
    if let Some((idx, _)) = s.char_indices().nth(max) {
        s.truncate(idx);
        s.push('…');
    }
}
