//! Precompiled components on disk, keyed by content hash and engine.
//!
//! A file is `MAGIC ‖ sha256(artifact) ‖ artifact`, where the artifact is what
//! this host's `Engine` produced by compiling the component. Loading checks the
//! magic and the checksum before handing the bytes to wasmtime (which checks
//! its own version and settings again). Anything that fails a check — a
//! truncated file, flipped bits, a file from another engine — is recompiled and
//! overwritten, never trusted and never a crash.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 8] = b"SMSDSK01";

/// How a component was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Compiled; no cache directory configured.
    Compiled,
    /// Compiled and written to the cache.
    CompiledAndStored,
    /// Loaded from a precompiled artifact.
    Cached,
    /// A cached file was rejected (the reason) and the component recompiled.
    Recompiled(String),
}

/// The on-disk cache (or none).
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

/// Feeds `Hash` output into SHA-256 so the engine key is stable across runs.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl ArtifactCache {
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..8]);
        ArtifactCache { dir, engine_key }
    }

    /// The file a component with this content hash is cached in.
    pub fn path_for(&self, content_hash: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{content_hash}-{}.cwasm", self.engine_key)))
    }

    /// Load the component from the cache or compile it within `limits` (and store it).
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        content_hash: &str,
        limits: &super::compile::CompileLimits,
    ) -> Result<(Component, CacheOutcome), String> {
        let rejected = match self.path_for(content_hash).map(|path| (std::fs::read(&path), path)) {
            None => None,
            Some((Ok(file), _)) => match Self::open(engine, &file) {
                Ok(component) => return Ok((component, CacheOutcome::Cached)),
                Err(reason) => Some(reason),
            },
            Some((Err(e), _)) if e.kind() == std::io::ErrorKind::NotFound => None,
            Some((Err(e), _)) => Some(format!("unreadable: {e}")),
        };
        if let (Some(reason), Some(path)) = (&rejected, self.path_for(content_hash)) {
            tracing::warn!(path = %path.display(), reason, "ignoring cached plugin artifact; recompiling");
        }
        let artifact = super::compile::precompile(engine, bytes, limits)?;
        // SAFETY: `Component::deserialize` requires bytes produced by
        // `precompile_component` of a compatible engine: these come straight
        // from this engine, or from a compile worker (this same executable)
        // using `compile::wasm_config`, the settings compiled code depends
        // on; wasmtime rejects an artifact of another version or setting.
        let component = unsafe { Component::deserialize(engine, &artifact) }
            .map_err(|e| format!("the compiled component was rejected: {e}"))?;
        let Some(path) = self.path_for(content_hash) else { return Ok((component, CacheOutcome::Compiled)) };
        let stored = Self::store(&path, &artifact);
        if let Err(e) = &stored {
            tracing::warn!(path = %path.display(), error = %e, "could not write plugin artifact cache");
        }
        let outcome = match (rejected, stored) {
            (Some(reason), _) => CacheOutcome::Recompiled(reason),
            (None, Ok(())) => CacheOutcome::CompiledAndStored,
            (None, Err(_)) => CacheOutcome::Compiled,
        };
        Ok((component, outcome))
    }

    fn open(engine: &Engine, file: &[u8]) -> Result<Component, String> {
        if file.len() < MAGIC.len() + 32 || &file[..MAGIC.len()] != MAGIC {
            return Err("not an smsdesk artifact (bad header)".into());
        }
        let (sum, artifact) = file[MAGIC.len()..].split_at(32);
        if Sha256::digest(artifact).as_slice() != sum {
            return Err("checksum mismatch (corrupt or truncated)".into());
        }
        // SAFETY: `Component::deserialize` requires bytes produced by
        // `Component::serialize` of a compatible engine. The checksum above
        // proves these are exactly the bytes this cache wrote after such a
        // serialization (the directory is the host's own, not user input), and
        // wasmtime itself rejects artifacts of another version or configuration.
        unsafe { Component::deserialize(engine, artifact) }.map_err(|e| format!("rejected by wasmtime: {e}"))
    }

    fn store(path: &Path, artifact: &[u8]) -> Result<(), String> {
        let dir = path.parent().ok_or("cache path has no directory")?;
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let mut file = Vec::with_capacity(MAGIC.len() + 32 + artifact.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&Sha256::digest(artifact));
        file.extend_from_slice(artifact);
        // Write to a temporary name and rename, so a reader never sees half a file.
        // (The name is unique per process and write: two loads of one
        // component may store it at once.)
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        std::fs::write(&tmp, &file).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())
    }
}
