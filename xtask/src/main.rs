//! The project's own tasks, run as `cargo xtask …` (the alias is in
//! `.cargo/config.toml`).
//!
//! `cargo xtask test` is the README's test command: on a fresh machine it
//! installs what the tests need when it is missing (the Rust toolchain's Wasm
//! target and components, the example plugins' toolchains, Debian's Chromium
//! and ChromeDriver, a PostgreSQL server for the storage tests' second
//! engine, the schema fuzzer schemathesis from PyPI), then runs every check in order — `cargo fmt --check`,
//! `cargo clippy -D warnings`, the whole test suite — and stops at the first
//! that fails, naming it. `.ci/run` calls exactly this.
//!
//! Standard library only, so that it builds in seconds before anything else.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  test [-- ARGS]   install what the tests need when it is missing, then run
                   cargo fmt --check, cargo clippy (warnings are errors) and
                   cargo test --workspace [ARGS]
  setup            only install what the tests need
  lint             only cargo fmt --check and cargo clippy
";

/// A failed step: its name and the first problem it found.
struct Failure {
    step: &'static str,
    problem: String,
}

type Step = Result<(), Failure>;

fn fail(step: &'static str, problem: impl Into<String>) -> Failure {
    Failure { step, problem: problem.into() }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf();
    let result = match args.first().map(String::as_str) {
        Some("test") => {
            let rest = match args.get(1).map(String::as_str) {
                None => &[][..],
                Some("--") => &args[2..],
                Some(other) => {
                    eprintln!("error: unexpected argument `{other}` (pass test arguments after `--`)\n\n{USAGE}");
                    return ExitCode::from(2);
                }
            };
            test(&root, rest)
        }
        Some("setup") if args.len() == 1 => rust_toolchain().and_then(|()| test_tools(&root).map(|_| ())),
        Some("lint") if args.len() == 1 => rust_toolchain().and_then(|()| lint(&root)),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("error: unknown task `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { step, problem }) => {
            eprintln!("\nxtask: FAILED at `{step}`: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn test(root: &Path, test_args: &[String]) -> Step {
    let started = std::time::Instant::now();
    rust_toolchain()?;
    lint(root)?;
    let tools = test_tools(root)?;
    say("cargo test --workspace (the storage tests on SQLite and on PostgreSQL)");
    let mut cmd = cargo(root);
    cmd.args(["test", "--workspace"]).args(test_args);
    if let Some(url) = tools.postgres {
        cmd.env("SMSDESK_TEST_POSTGRES_URL", url);
    }
    cmd.env("SMSDESK_TEST_SCHEMATHESIS", tools.schemathesis);
    run_scanning(cmd, "cargo test", first_test_problem)?;
    say(&format!("every check passed in {} s", started.elapsed().as_secs()));
    Ok(())
}

fn lint(root: &Path) -> Step {
    say("cargo fmt --all --check");
    let out = cargo(root)
        .args(["fmt", "--all", "--check"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| fail("cargo fmt", format!("could not run cargo fmt: {e}")))?;
    if !out.status.success() {
        let diff = String::from_utf8_lossy(&out.stdout);
        print!("{diff}");
        let files: Vec<&str> = diff
            .lines()
            .filter_map(|line| line.strip_prefix("Diff in "))
            .map(|rest| rest.rsplitn(3, ':').last().unwrap_or(rest))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let first = files.first().copied().unwrap_or("(see the output above)");
        return Err(fail(
            "cargo fmt --check",
            format!("{} file(s) not formatted, first {first}; run `cargo fmt --all`", files.len().max(1)),
        ));
    }

    say("cargo clippy --workspace --all-targets -- -D warnings");
    let mut cmd = cargo(root);
    cmd.args(["clippy", "--workspace", "--all-targets", "--message-format=short", "--", "-D", "warnings"]);
    run_scanning(cmd, "cargo clippy", |line| {
        (line.contains(": error") || line.starts_with("error")).then(|| line.trim().to_string())
    })
}

/// The Rust toolchain of `rust-toolchain.toml` with its Wasm target and
/// components. rustup adds a toolchain file's targets and components only
/// when it installs the toolchain itself, so a machine that already had the
/// toolchain lacks them.
fn rust_toolchain() -> Step {
    const STEP: &str = "rust toolchain";
    let Some(rustup) = which("rustup") else {
        // Without rustup nothing can be added; the build names what is missing.
        return Ok(());
    };
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").ok().filter(|t| !t.is_empty());
    let with_toolchain = |cmd: &mut Command| {
        if let Some(t) = &toolchain {
            cmd.args(["--toolchain", t]);
        }
    };
    let mut list = Command::new(&rustup);
    list.args(["target", "list", "--installed"]);
    with_toolchain(&mut list);
    let installed = capture(list).unwrap_or_default();
    if !installed.lines().any(|l| l.trim() == "wasm32-wasip2") {
        say("adding the wasm32-wasip2 target (rustup target add wasm32-wasip2)");
        let mut add = Command::new(&rustup);
        add.args(["target", "add", "wasm32-wasip2"]);
        with_toolchain(&mut add);
        run(add, STEP)?;
    }
    let mut list = Command::new(&rustup);
    list.args(["component", "list", "--installed"]);
    with_toolchain(&mut list);
    let installed = capture(list).unwrap_or_default();
    let missing: Vec<&str> = ["rustfmt", "clippy"]
        .into_iter()
        .filter(|c| !installed.lines().any(|l| l.trim().starts_with(&format!("{c}-"))))
        .collect();
    if !missing.is_empty() {
        say(&format!("adding the {} component(s) (rustup component add)", missing.join(", ")));
        let mut add = Command::new(&rustup);
        add.args(["component", "add"]).args(&missing);
        with_toolchain(&mut add);
        run(add, STEP)?;
    }
    Ok(())
}

/// What the tests need beyond Rust: the example plugins' toolchains (pinned
/// and cached by `examples/plugins/install-toolchains.sh`) and a browser for
/// the inbox test.
/// What `test_tools` found or installed, for the tests.
struct Tools {
    /// The PostgreSQL server's URL (None: the caller's own, from the environment).
    postgres: Option<String>,
    /// schemathesis's `st` program.
    schemathesis: PathBuf,
}

fn test_tools(root: &Path) -> Result<Tools, Failure> {
    say("example plugin toolchains (examples/plugins/install-toolchains.sh)");
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("examples/plugins/install-toolchains.sh"));
    run(cmd, "example plugin toolchains")?;

    let postgres = postgres()?;

    let chromium = which("chromium").is_some();
    let driver = which("chromedriver").is_some() || Path::new("/usr/lib/chromium/chromedriver").exists();
    if !chromium || !driver {
        say("installing Debian's chromium and chromium-driver (apt) for the inbox test");
        apt_install(&["chromium", "chromium-driver"], "chromium")?;
    }
    let schemathesis = schemathesis()?;
    Ok(Tools { postgres, schemathesis })
}

/// The schema fuzzer's release on PyPI, pinned so that every run fuzzes alike.
const SCHEMATHESIS: &str = "4.32.5";

/// schemathesis for the schema fuzzer test, in its own virtual environment
/// under `~/.cache/smsdesk` (reused while its version matches), with Python
/// and its `venv` module from Debian's packages when they are missing.
fn schemathesis() -> Result<PathBuf, Failure> {
    const STEP: &str = "schemathesis";
    if let Some(st) = std::env::var_os("SMSDESK_TEST_SCHEMATHESIS") {
        return Ok(st.into());
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let venv = home.join(".cache/smsdesk").join(format!("schemathesis-{SCHEMATHESIS}"));
    let st = venv.join("bin/st");
    let installed = |st: &Path| {
        capture({
            let mut c = Command::new(st);
            c.arg("--version");
            c
        })
        .is_some_and(|v| v.contains(SCHEMATHESIS))
    };
    if installed(&st) {
        return Ok(st);
    }
    if which("python3").is_none() {
        say("installing Python (apt) for the schema fuzzer");
        apt_install(&["python3", "python3-venv"], STEP)?;
    }
    let make_venv = || {
        let _ = std::fs::remove_dir_all(&venv);
        Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success())
            && venv.join("bin/pip").is_file()
    };
    if !make_venv() {
        say("installing Python's venv module (apt) for the schema fuzzer");
        apt_install(&["python3-venv"], STEP)?;
        if !make_venv() {
            return Err(fail(STEP, format!("`python3 -m venv {}` failed", venv.display())));
        }
    }
    say(&format!("installing schemathesis {SCHEMATHESIS} from PyPI into {}", venv.display()));
    let mut pip = Command::new(venv.join("bin/pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check", &format!("schemathesis=={SCHEMATHESIS}")]);
    run(pip, STEP)?;
    if !installed(&st) {
        return Err(fail(STEP, format!("installed, but `{} --version` does not name {SCHEMATHESIS}", st.display())));
    }
    Ok(st)
}

/// The tests run every storage test on PostgreSQL too: find a server
/// (`SMSDESK_TEST_POSTGRES_URL`, else 127.0.0.1:5432), starting or
/// installing one (Debian's `postgresql`) when none answers, and tell the
/// tests where it is.
fn postgres() -> Result<Option<String>, Failure> {
    const STEP: &str = "postgresql";
    if std::env::var_os("SMSDESK_TEST_POSTGRES_URL").is_some()
        || std::env::var("SMSDESK_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1")
    {
        return Ok(None);
    }
    let ready =
        || Command::new("pg_isready").args(["-q", "-h", "127.0.0.1", "-p", "5432"]).status().is_ok_and(|s| s.success());
    if !ready() {
        if which("pg_ctlcluster").is_none() {
            say("installing PostgreSQL (apt) for the PostgreSQL half of the tests");
            apt_install(&["postgresql"], STEP)?;
        }
        // Start every cluster that is down (containers have no systemd to do it).
        for cluster in clusters() {
            say(&format!("starting PostgreSQL {cluster}"));
            let mut start = Command::new("pg_ctlcluster");
            start.arg("--skip-systemctl-redirect").args(cluster.split(' ')).arg("start");
            let _ = start.status();
        }
        for _ in 0..50 {
            if ready() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        if !ready() {
            return Err(fail(
                STEP,
                "no PostgreSQL answers on 127.0.0.1:5432 and none could be started; set SMSDESK_TEST_POSTGRES_URL",
            ));
        }
    }
    // Trust authentication (this kind of machine), or a password set for the
    // tests where a fresh install asks for one.
    let works = |url: &str| {
        Command::new("psql")
            .arg(format!("{url}/postgres"))
            .args(["-qtAc", "SELECT 1"])
            .env("PGCONNECT_TIMEOUT", "5")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut url = "postgres://postgres@127.0.0.1:5432".to_string();
    if !works(&url) {
        let with_password = "postgres://postgres:smsdesk-tests@127.0.0.1:5432";
        if !works(with_password) {
            say("giving the PostgreSQL role `postgres` a password for the tests");
            let mut cmd = if is_root() { Command::new("runuser") } else { Command::new("sudo") };
            if is_root() {
                cmd.args(["-u", "postgres", "--"]);
            } else {
                cmd.args(["-u", "postgres"]);
            }
            cmd.args(["psql", "-qc", "ALTER ROLE postgres PASSWORD 'smsdesk-tests'"]);
            run(cmd, STEP)?;
        }
        if !works(with_password) {
            return Err(fail(STEP, "cannot sign in to PostgreSQL on 127.0.0.1:5432; set SMSDESK_TEST_POSTGRES_URL"));
        }
        url = with_password.to_string();
    }
    say(&format!("PostgreSQL for the tests: {}", url.replace(":smsdesk-tests@", ":****@")));
    Ok(Some(url))
}

/// Debian's PostgreSQL clusters that are down, as "VERSION NAME".
fn clusters() -> Vec<String> {
    let Some(list) = capture({
        let mut c = Command::new("pg_lsclusters");
        c.arg("--no-header");
        c
    }) else {
        return Vec::new();
    };
    list.lines()
        .filter(|l| l.contains("down"))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some(format!("{} {}", parts.next()?, parts.next()?))
        })
        .collect()
}

fn apt_install(packages: &[&str], step: &'static str) -> Step {
    if which("apt-get").is_none() {
        return Err(fail(
            step,
            format!("{} missing and there is no apt-get: install them by hand", packages.join(" ")),
        ));
    }
    let sudo = !is_root();
    let apt = |args: &[&str]| {
        let mut cmd = if sudo { Command::new("sudo") } else { Command::new("apt-get") };
        if sudo {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(apt(&["update", "-q"]), step)?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(packages);
    run(install, step)
}

fn is_root() -> bool {
    capture({
        let mut c = Command::new("id");
        c.arg("-u");
        c
    })
    .is_some_and(|uid| uid.trim() == "0")
}

fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

fn say(what: &str) {
    eprintln!("xtask: {what}");
}

fn run(mut cmd: Command, step: &'static str) -> Step {
    let status = cmd.status().map_err(|e| fail(step, format!("could not start {:?}: {e}", cmd.get_program())))?;
    if status.success() { Ok(()) } else { Err(fail(step, format!("{:?} exited with {status}", cmd.get_program()))) }
}

/// Runs `cmd` with its output shown as it comes, remembering the first line
/// `problem` recognises, which becomes the failure's message.
fn run_scanning(mut cmd: Command, step: &'static str, problem: fn(&str) -> Option<String>) -> Step {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(step, format!("could not start {step}: {e}")))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || echo(stdout, false, problem));
    let err = std::thread::spawn(move || echo(stderr, true, problem));
    let first_out = out.join().unwrap_or(None);
    let first_err = err.join().unwrap_or(None);
    let status = child.wait().map_err(|e| fail(step, e.to_string()))?;
    if status.success() {
        return Ok(());
    }
    let first = first_out.or(first_err).unwrap_or_else(|| format!("exited with {status} (see the output above)"));
    Err(fail(step, first))
}

fn echo(stream: impl Read, to_stderr: bool, problem: fn(&str) -> Option<String>) -> Option<String> {
    let mut first = None;
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        if to_stderr {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
        if first.is_none() {
            first = problem(&line);
        }
    }
    first
}

/// `test path::to::case ... FAILED`, or a build error before any test ran.
fn first_test_problem(line: &str) -> Option<String> {
    if let Some(name) = line.strip_prefix("test ").and_then(|rest| rest.strip_suffix(" ... FAILED")) {
        return Some(format!("test {name} failed"));
    }
    if line.starts_with("error") && !line.starts_with("error: test failed") {
        return Some(line.trim().to_string());
    }
    None
}

fn capture(mut cmd: Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}
