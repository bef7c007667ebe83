//! Compiling a component without letting it take the host down.
//!
//! A stranger's upload is compiled only after its size is counted
//! ([`CompileLimits`]: functions, code bytes, types, tables, memories,
//! globals, segments, nested modules and components — read with wasmparser,
//! without compiling anything), and then in a child process of its own
//! (`smsdesk __compile-plugin`) whose memory is capped (`RLIMIT_DATA`:
//! heap, anonymous mappings, thread stacks) and whose time is bounded: whatever compiling takes, the
//! host's memory is given back when the child exits, and a component that
//! needs more is refused with the limit named. Where no worker executable is
//! known (a library embedding the runtime), compiling happens in process,
//! after the same counts.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wasmtime::{Config, Engine};

/// Bounds on what a component may make the host compile.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileLimits {
    /// Core functions defined, over every module inside the component.
    pub max_functions: u64,
    /// Bytes of function bodies, over every module.
    pub max_code_bytes: u64,
    /// Type definitions (core and component).
    pub max_types: u64,
    /// Tables defined.
    pub max_tables: u64,
    /// Memories defined.
    pub max_memories: u64,
    /// Globals defined.
    pub max_globals: u64,
    /// Data and element segments.
    pub max_segments: u64,
    /// Core modules and components nested inside.
    pub max_nested: u64,
    /// Memory (data: heap and anonymous mappings) of the compile worker, in bytes.
    pub memory_bytes: u64,
    /// Longest a compilation may take.
    pub timeout: Duration,
    /// The `smsdesk` executable to compile in (`None`: compile in this process).
    pub worker: Option<PathBuf>,
}

impl Default for CompileLimits {
    /// Room for the largest real plugins several times over (measured: the
    /// componentize-js responder has 12,681 functions and 8.8 MiB of code and
    /// peaks at 390 MiB while compiling; the componentize-py classifier
    /// 13,492 functions and 6.3 MiB), far below what hurts a host.
    fn default() -> Self {
        CompileLimits {
            max_functions: 100_000,
            max_code_bytes: 48 << 20,
            max_types: 100_000,
            max_tables: 256,
            max_memories: 16,
            max_globals: 100_000,
            max_segments: 100_000,
            max_nested: 1_000,
            memory_bytes: 2 << 30,
            timeout: Duration::from_secs(120),
            worker: default_worker(),
        }
    }
}

/// This executable, when it is `smsdesk` (the host, the CLI), else none.
pub fn default_worker() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    (exe.file_stem()? == "smsdesk").then_some(exe)
}

/// What a component contains, counted without compiling it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Core functions defined.
    pub functions: u64,
    /// Bytes of function bodies.
    pub code_bytes: u64,
    /// Type definitions.
    pub types: u64,
    /// Tables.
    pub tables: u64,
    /// Memories.
    pub memories: u64,
    /// Globals.
    pub globals: u64,
    /// Data and element segments.
    pub segments: u64,
    /// Nested core modules and components.
    pub nested: u64,
}

/// Count what `bytes` asks the compiler to do (sections are read, function
/// bodies skipped).
pub fn count(bytes: &[u8]) -> Result<Counts, String> {
    use wasmparser::Payload::*;
    let mut c = Counts::default();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| format!("not a valid component: {e}"))? {
            TypeSection(r) => c.types += u64::from(r.count()),
            CoreTypeSection(r) => c.types += u64::from(r.count()),
            ComponentTypeSection(r) => c.types += u64::from(r.count()),
            FunctionSection(r) => c.functions += u64::from(r.count()),
            CodeSectionStart { size, .. } => c.code_bytes += u64::from(size),
            TableSection(r) => c.tables += u64::from(r.count()),
            MemorySection(r) => c.memories += u64::from(r.count()),
            GlobalSection(r) => c.globals += u64::from(r.count()),
            DataSection(r) => c.segments += u64::from(r.count()),
            ElementSection(r) => c.segments += u64::from(r.count()),
            ModuleSection { .. } | ComponentSection { .. } => c.nested += 1,
            _ => {}
        }
    }
    Ok(c)
}

/// Refuse a component over any count, naming the limit.
pub fn check(counts: &Counts, limits: &CompileLimits) -> Result<(), String> {
    let checks = [
        ("functions", counts.functions, limits.max_functions),
        ("bytes of code", counts.code_bytes, limits.max_code_bytes),
        ("types", counts.types, limits.max_types),
        ("tables", counts.tables, limits.max_tables),
        ("memories", counts.memories, limits.max_memories),
        ("globals", counts.globals, limits.max_globals),
        ("data and element segments", counts.segments, limits.max_segments),
        ("nested modules and components", counts.nested, limits.max_nested),
    ];
    match checks.iter().find(|(_, n, max)| n > max) {
        None => Ok(()),
        Some((what, n, max)) => {
            Err(format!("it defines {n} {what}; this host compiles components of at most {max} (a compile limit)"))
        }
    }
}

/// The engine settings compiled code depends on. The runtime adds its
/// instance allocator; a compile worker uses exactly these, so what it
/// produces loads in the runtime's engine.
pub fn wasm_config() -> Config {
    let mut wasm = Config::new();
    wasm.epoch_interruption(true).wasm_component_model(true);
    wasm
}

/// Count, then compile `bytes` to a precompiled artifact for `engine`: in a
/// worker process when one is configured, else here.
pub fn precompile(engine: &Engine, bytes: &[u8], limits: &CompileLimits) -> Result<Vec<u8>, String> {
    check(&count(bytes)?, limits)?;
    match &limits.worker {
        Some(worker) => in_worker(worker, bytes, limits),
        None => engine.precompile_component(bytes).map_err(|e| format!("not a valid component: {e:#}")),
    }
}

fn in_worker(worker: &std::path::Path, bytes: &[u8], limits: &CompileLimits) -> Result<Vec<u8>, String> {
    let mut child = Command::new(worker)
        .arg("__compile-plugin")
        .arg("--memory-bytes")
        .arg(limits.memory_bytes.to_string())
        .env("SMSDESK_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the compile worker {}: {e}", worker.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let errors = std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.by_ref().take(64 << 10).read_to_string(&mut err);
        err
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > limits.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = writer.join();
                return Err(format!("compiling it took longer than {} s (a compile limit)", limits.timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for the compile worker: {e}")),
        }
    };
    let _ = writer.join();
    let artifact = reader.join().unwrap_or_default();
    let errors = errors.join().unwrap_or_default();
    if status.success() {
        return Ok(artifact);
    }
    let said = errors.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    let out_of_memory = said.contains("out of memory") || said.contains("memory allocation");
    if let Some(reason) = said.strip_prefix("error: ").filter(|_| !out_of_memory) {
        return Err(reason.to_string());
    }
    // Out of address space: the allocator aborts (or the kernel kills it).
    Err(format!(
        "compiling it needed more than {} MiB (a compile limit){}",
        limits.memory_bytes >> 20,
        if said.is_empty() || out_of_memory {
            String::new()
        } else {
            format!("; the compiler said: {}", crate::plugins::limits::plugin_text(&said))
        }
    ))
}

/// The worker's side (`smsdesk __compile-plugin`): cap this process's address
/// space, read a component from standard input, write the precompiled
/// artifact to standard output. A refusal is one `error:` line on stderr.
pub fn worker_main(memory_bytes: u64) -> std::process::ExitCode {
    #[cfg(unix)]
    {
        let limit = libc::rlimit { rlim_cur: memory_bytes as libc::rlim_t, rlim_max: memory_bytes as libc::rlim_t };
        // The data limit (heap, anonymous mappings, thread stacks: what a
        // compiler allocates), not the address space, which the executable's
        // own mapping would take a share of.
        // SAFETY: `setrlimit` only reads the struct passed by reference; it
        // lowers this process's own limit (allowed without privileges).
        if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } != 0 {
            eprintln!("error: cannot limit the compile worker's memory: {}", std::io::Error::last_os_error());
            return std::process::ExitCode::FAILURE;
        }
    }
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("error: reading the component: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let engine = match Engine::new(&wasm_config()) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("error: creating the Wasm engine: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match engine.precompile_component(&bytes) {
        Ok(artifact) => match std::io::stdout().write_all(&artifact) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: writing the artifact: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(e) => {
            let text: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: not a valid component: {}", text.join(": ").replace('\n', " "));
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_name_the_limit_they_break() {
        let counts = Counts { functions: 200_000, ..Counts::default() };
        let err = check(&counts, &CompileLimits::default()).unwrap_err();
        assert!(err.contains("200000 functions") && err.contains("at most 100000"), "{err}");
        assert!(check(&Counts { functions: 10, ..Counts::default() }, &CompileLimits::default()).is_ok());
        let tables = Counts { tables: 10_000, ..Counts::default() };
        assert!(check(&tables, &CompileLimits::default()).unwrap_err().contains("tables"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(count(b"\0asm\x0d\x00\x01\x00\x01\xff\xff").is_err());
        assert!(count(b"hello").is_err());
    }
}
