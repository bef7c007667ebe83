//! Build every Wasm guest of the workspace for `wasm32-wasip2` and expose the
//! results to Rust code (the pattern of wasmtime's `test-programs` artifacts).
//!
//! A nested `cargo build` runs in a target directory of its own (it cannot
//! share the outer build's lock). Its output components are copied into
//! `OUT_DIR`, and `first_party.rs` / `test_guests.rs` are generated there with
//! their paths (and, for first-party plugins, their bytes).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, constant) of the plugins shipped with smsdesk.
const FIRST_PARTY: &[(&str, &str)] =
    &[("keyword-intents", "KEYWORD_INTENTS"), ("faq-responder", "FAQ_RESPONDER"), ("demo-crm", "DEMO_CRM")];

/// (package, constant) of the hostile and special-purpose guests the tests use.
const TEST_GUESTS: &[(&str, &str)] = &[
    ("guest-looper", "LOOPER"),
    ("guest-memory-hog", "MEMORY_HOG"),
    ("guest-trapper", "TRAPPER"),
    ("guest-oversized", "OVERSIZED"),
    ("guest-ambient", "AMBIENT"),
    ("guest-kv-counter", "KV_COUNTER"),
    ("guest-no-roles", "NO_ROLES"),
    ("guest-greeter-v1", "GREETER_V1"),
    ("guest-greeter-v2", "GREETER_V2"),
    ("guest-echo-from", "ECHO_FROM"),
    ("guest-crm-http", "CRM_HTTP"),
    ("guest-legacy-v010", "LEGACY_V010"),
    ("guest-impostor", "IMPOSTOR"),
    ("guest-impostor-greeter", "IMPOSTOR_GREETER"),
    ("guest-hostile-output", "HOSTILE_OUTPUT"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.join("../..").canonicalize().expect("workspace root");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    // Every source file by name: a directory alone was not always rescanned
    // (a changed guest kept its old build).
    for dir in ["plugins", "sdk", "wit", "host/tests/guests", "Cargo.lock", "Cargo.toml"] {
        watch(&workspace.join(dir));
    }
    println!("cargo:rerun-if-env-changed=SMSDESK_GUEST_TARGET_DIR");
    println!("cargo:rerun-if-env-changed=SMSDESK_FIRST_PARTY_KEY");

    ensure_wasm_target();

    let target_dir = guest_target_dir(&out_dir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    for (package, _) in FIRST_PARTY.iter().chain(TEST_GUESTS) {
        cmd.args(["-p", package]);
    }
    // The outer build's flags are for the host target, not for Wasm.
    for var in
        ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER"]
    {
        cmd.env_remove(var);
    }
    let output = cmd.output().expect("running cargo to build the Wasm guests");
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        panic!(
            "building the Wasm guests failed (see above). Is the wasm32-wasip2 target installed? \
             `rustup target add wasm32-wasip2` (rust-toolchain.toml asks rustup for it)"
        );
    }

    let built = target_dir.join("wasm32-wasip2").join("release");
    let key = first_party_key(&target_dir);
    let mut first_party = generate(&built, &out_dir, FIRST_PARTY, Some(&key));
    writeln!(
        first_party,
        "/// The key the first-party plugins are signed with (publisher `smsdesk`).\npub static PUBLISHER_KEY: &str = {:?};",
        key.public().to_string()
    )
    .unwrap();
    let test_guests = generate(&built, &out_dir, TEST_GUESTS, None);
    std::fs::write(out_dir.join("first_party.rs"), first_party).expect("writing first_party.rs");
    std::fs::write(out_dir.join("test_guests.rs"), test_guests).expect("writing test_guests.rs");
}

/// The first-party publisher key: the file `SMSDESK_FIRST_PARTY_KEY` names
/// (a release build's key), or one made for this build directory on its
/// first build and kept there. Either way it is never in the repository.
fn first_party_key(target_dir: &Path) -> smsdesk_signing::SecretKey {
    let path = match std::env::var_os("SMSDESK_FIRST_PARTY_KEY") {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("SMSDESK_FIRST_PARTY_KEY: cannot read {}: {e}", path.display()));
            return smsdesk_signing::SecretKey::from_file_text(&text)
                .unwrap_or_else(|e| panic!("SMSDESK_FIRST_PARTY_KEY: {}: {e}", path.display()));
        }
        None => target_dir.join("first-party-signing.key"),
    };
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(key) = smsdesk_signing::SecretKey::from_file_text(&text)
    {
        return key;
    }
    let key = smsdesk_signing::SecretKey::generate().expect("a random key");
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, key.to_file_text()).expect("writing the first-party key");
    // Another build may have made one meanwhile: the first one stays.
    match std::fs::hard_link(&tmp, &path) {
        Ok(()) => {
            let _ = std::fs::remove_file(&tmp);
            key
        }
        Err(_) => {
            let _ = std::fs::remove_file(&tmp);
            let text = std::fs::read_to_string(&path).expect("reading the first-party key");
            smsdesk_signing::SecretKey::from_file_text(&text).expect("a valid first-party key")
        }
    }
}

fn generate(
    built: &Path,
    out_dir: &Path,
    guests: &[(&str, &str)],
    sign: Option<&smsdesk_signing::SecretKey>,
) -> String {
    let embed = sign.is_some();
    let mut code = String::new();
    let mut all = Vec::new();
    for (package, constant) in guests {
        let file = format!("{}.wasm", package.replace('-', "_"));
        let from = built.join(&file);
        let to = out_dir.join(&file);
        match sign {
            // First-party plugins carry the first-party publisher's signature.
            Some(key) => {
                let bytes = std::fs::read(&from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
                let signed = smsdesk_signing::sign(&bytes, key).unwrap_or_else(|e| panic!("signing {package}: {e}"));
                std::fs::write(&to, signed).unwrap_or_else(|e| panic!("writing {}: {e}", to.display()));
            }
            None => {
                std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
            }
        }
        let path = to.display().to_string();
        let bytes = if embed { format!("include_bytes!({path:?})") } else { "&[]".to_string() };
        writeln!(
            code,
            "/// The `{package}` component.\npub static {constant}: crate::Guest = crate::Guest {{ name: {package:?}, path: {path:?}, bytes: {bytes} }};"
        )
        .unwrap();
        all.push(constant.to_string());
    }
    writeln!(
        code,
        "/// Every component in this group.\npub static ALL: &[&crate::Guest] = &[{}];",
        all.iter().map(|c| format!("&{c}")).collect::<Vec<_>>().join(", ")
    )
    .unwrap();
    code
}

/// rustup installs `rust-toolchain.toml`'s targets only when it installs the
/// toolchain itself: a machine that already had the toolchain lacks
/// `wasm32-wasip2`. Notice that and, when rustup manages this toolchain, add
/// the target for it; without rustup the nested build fails with its own
/// clear error below.
fn ensure_wasm_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output();
    let Ok(sysroot) = sysroot else { return };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib/wasm32-wasip2/lib").is_dir() {
        return;
    }
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").ok().filter(|t| !t.is_empty());
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", "wasm32-wasip2"]);
    if let Some(toolchain) = &toolchain {
        rustup.args(["--toolchain", toolchain]);
    }
    match rustup.output() {
        Ok(out) if out.status.success() => println!(
            "cargo:warning=added the wasm32-wasip2 target to the {} toolchain (rustup target add wasm32-wasip2)",
            toolchain.as_deref().unwrap_or("active")
        ),
        Ok(out) => println!(
            "cargo:warning=the wasm32-wasip2 target is missing and `rustup target add wasm32-wasip2` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        // No rustup: the nested build below names the missing target.
        Err(_) => {}
    }
}

/// Nested builds share one target directory beside the outer one, so their
/// dependencies are compiled once and survive `cargo test` rebuilds.
/// `rerun-if-changed` for `path` and, for a directory, everything under it
/// (but build outputs and hidden entries).
fn watch(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            watch(&entry.path());
        }
    }
}

fn guest_target_dir(out_dir: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("SMSDESK_GUEST_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // OUT_DIR is <target>/[<triple>/]<profile>/build/<package>-<hash>/out.
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(|target| target.join("wasm-guests"))
        .unwrap_or_else(|| out_dir.join("wasm-guests"))
}
