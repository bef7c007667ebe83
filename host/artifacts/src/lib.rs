//! Wasm components built from this workspace's sources by `build.rs`.
//!
//! [`first_party`] holds smsdesk's own plugins (embedded, so the `smsdesk`
//! binary can run the demo without files beside it); [`test_guests`] holds
//! the hostile and special-purpose guests of the host's tests (paths only).

/// A built component.
#[derive(Debug)]
pub struct Guest {
    /// The crate's package name.
    pub name: &'static str,
    /// Where the built `.wasm` is.
    pub path: &'static str,
    /// Its bytes, for embedded components (empty for test guests; read `path`).
    pub bytes: &'static [u8],
}

impl Guest {
    /// The component's bytes (embedded or read from `path`).
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        if self.bytes.is_empty() { std::fs::read(self.path) } else { Ok(self.bytes.to_vec()) }
    }
}

/// The first-party plugins.
pub mod first_party {
    include!(concat!(env!("OUT_DIR"), "/first_party.rs"));
}

/// Guests for the host's tests; each has a README with what it expects.
pub mod test_guests {
    include!(concat!(env!("OUT_DIR"), "/test_guests.rs"));
}
