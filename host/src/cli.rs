//! The `smsdesk` command line: parsing, then calls into the library.

use crate::domain::{ConversationContext, InboundMessage, Intent, Role};
use crate::plugins::{CallContext, LoadedPlugin, PluginConfig, Runtime, RuntimeConfig};
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// smsdesk: Customer Support SMS with WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "smsdesk", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with plugin components.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// SMS tools.
    #[command(subcommand)]
    Sms(SmsCommand),
    /// Consent: test phrasings, export the ledger.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Support figures for a tenant and period, from the database of a configuration.
    Report {
        /// Configuration file (TOML); `SMSDESK_*` variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Start: `YYYY-MM-DD` (midnight in the tenant's time zone) or an RFC 3339 time.
        #[arg(long)]
        since: String,
        /// End (exclusive), same forms; default now.
        #[arg(long)]
        until: Option<String>,
        /// table or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Users: make a personal API token.
    #[command(subcommand)]
    User(UserCommand),
    /// Run the host: webhooks, pipeline, outbox and API.
    Serve {
        /// Configuration file (TOML); `SMSDESK_*` variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The database: `postgres://USER@HOST/DB` (created if missing) or
        /// `sqlite://PATH`; overrides the configuration and `SMSDESK_DATABASE_URL`.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Run a demo host: SQLite in a fresh data directory, a demo tenant wired to
    /// the first-party plugins and the `log` provider.
    Demo {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// Data directory (default: a fresh one under the temp directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The database (default: SQLite in the data directory): for example
        /// `postgres://postgres@127.0.0.1/smsdesk_demo` (created if missing).
        #[arg(long, env = "SMSDESK_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Internal: compile a plugin component read from stdin (what a host runs
    /// in a child process, so that compiling never holds the host's memory).
    #[command(name = "__compile-plugin", hide = true)]
    CompilePlugin(CompileWorkerArgs),
    /// Text a running host from the terminal, as a customer would.
    Chat {
        /// The host's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// Your (the customer's) number.
        #[arg(long, default_value = crate::demo::DEMO_CUSTOMER)]
        from: String,
        /// The tenant's number.
        #[arg(long, default_value = crate::demo::DEMO_NUMBER)]
        to: String,
        /// The token webhooks are signed with (the tenant's auth token).
        #[arg(long, default_value = crate::demo::DEMO_AUTH_TOKEN)]
        auth_token: String,
        /// The tenant's read-API token, to watch for replies.
        #[arg(long, default_value = crate::demo::DEMO_API_TOKEN)]
        api_token: String,
    },
}

/// Hidden: the compile worker a host runs for each new component.
#[derive(Debug, Args)]
struct CompileWorkerArgs {
    /// Address space the worker may use, in bytes.
    #[arg(long)]
    memory_bytes: u64,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Print a new random token and its SHA-256: give the token to the user,
    /// put the hash in their `[[tenants.users]]` entry as `token_sha256`.
    Token,
}

#[derive(Debug, Subcommand)]
enum SmsCommand {
    /// Print the encoding, segment count and units of TEXT as JSON.
    Segments {
        /// The message text.
        text: String,
    },
}

#[derive(Debug, Subcommand)]
enum ConsentCommand {
    /// What the host would do with an inbound TEXT: opt-out, opt-in, help,
    /// ambiguous or none, and why (the keyword or detector rule).
    Check {
        /// The inbound text.
        text: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Use this configuration's keywords for `--tenant`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The tenant whose extra keywords apply (with `--config`).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Export the consent ledger of a tenant (or one contact's history) from
    /// the database of a configuration.
    Export {
        /// Configuration file (TOML); `SMSDESK_*` variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Only this contact's history (E.164).
        #[arg(long)]
        contact: Option<String>,
        /// json or csv.
        #[arg(long, default_value = "json")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Show a component's name, version, roles, contract version, capabilities and imports.
    Inspect {
        /// The component (.wasm), or `builtin:NAME` for a first-party plugin.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run one role of a component once and print the result as JSON.
    Run(RunArgs),
    /// Scaffold a Rust plugin crate that builds with `cargo build --release`.
    New {
        /// The plugin's name (kebab-case); also the directory, unless `--dir`.
        name: String,
        /// classifier, crm or responder.
        #[arg(long)]
        role: Role,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The smsdesk SDK crate (default: the one this smsdesk was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Run a component against a file of cases with expected decisions and
    /// print a pass/fail table (exit code 1 if any fails).
    Test {
        /// The component (.wasm), or `builtin:NAME`.
        file: PathBuf,
        /// The cases (YAML).
        #[arg(long)]
        cases: PathBuf,
        /// The role to test (default: the component's only role, or responder).
        #[arg(long)]
        role: Option<Role>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Upload a component to a running host (admin API); with `--tenant`
    /// and `--role`, also bind it (hot, nothing restarts).
    Install {
        /// The component (.wasm).
        file: PathBuf,
        #[command(flatten)]
        admin: AdminArgs,
        /// Bind it for this tenant …
        #[arg(long, requires = "role")]
        tenant: Option<String>,
        /// … in this role.
        #[arg(long, requires = "tenant")]
        role: Option<String>,
        /// The plugin's configuration for the tenant (a JSON object).
        #[arg(long)]
        config: Option<String>,
        /// A capability granted to the binding (repeatable): `key-value`,
        /// `outbound-http:HOST`, `raw-phone-numbers`.
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Make a publisher key pair: the secret key goes to FILE (readable only
    /// by you; keep it out of the repository), the public key is printed.
    Keygen {
        /// Where to write the secret key (refuses to overwrite).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a component with a publisher's secret key (an `smsdesk-signature`
    /// custom section; an earlier signature is replaced).
    Sign {
        /// The component (.wasm).
        file: PathBuf,
        /// The secret key file (`smsdesk plugin keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Write the signed component here (default: sign FILE in place).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Publishers a host knows: names for Ed25519 keys (admin API).
    #[command(subcommand)]
    Publisher(PublisherCommand),
    /// Which publishers a tenant trusts (`unsigned`: allow unsigned plugins).
    #[command(subcommand)]
    Trust(TrustCommand),
    /// List uploaded plugin versions, with the bindings using them.
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// What runs for a tenant: active plugins with breaker state, managed bindings.
    Bindings {
        #[command(flatten)]
        admin: AdminArgs,
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Turn a managed binding on.
    Enable(BindingArgs),
    /// Turn a managed binding off (a configured binding of the plugin is silenced too).
    Disable(BindingArgs),
    /// Go back to the version bound before.
    Rollback(BindingArgs),
    /// A tenant's write-only secrets for a plugin: configuration values, or
    /// headers the host adds to the plugin's HTTP requests to one host.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Run a component over a tenant's stored messages (from the database of
    /// a configuration) and report what it would have decided next to what
    /// happened. Offline: nothing is sent or changed.
    Replay {
        /// The component (.wasm), or `builtin:NAME`.
        file: PathBuf,
        /// Configuration file (TOML); `SMSDESK_*` variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// classifier or responder (default: the component's responder role, else classifier).
        #[arg(long)]
        role: Option<Role>,
        /// From: `YYYY-MM-DD` (tenant time zone) or RFC 3339.
        #[arg(long)]
        since: Option<String>,
        /// Until (exclusive).
        #[arg(long)]
        until: Option<String>,
        /// Only these conversations (repeatable).
        #[arg(long = "conversation")]
        conversations: Vec<i64>,
        /// The plugin's configuration (a JSON object).
        #[arg(long)]
        plugin_config: Option<String>,
        /// Most messages.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// table or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
enum PublisherCommand {
    /// Register a publisher's public key under a name.
    Add {
        #[command(flatten)]
        admin: AdminArgs,
        /// The name (a-z, 0-9 and -).
        name: String,
        /// The public key, `ed25519:<64 hex digits>` (what `keygen` printed).
        #[arg(long)]
        key: String,
    },
    /// List publishers.
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Remove a publisher none of whose versions is uploaded.
    Remove {
        #[command(flatten)]
        admin: AdminArgs,
        /// The name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum TrustCommand {
    /// Let the tenant bind this publisher's plugins (`unsigned`: unsigned ones).
    Add {
        #[command(flatten)]
        admin: AdminArgs,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// A registered publisher's name, or `unsigned`.
        publisher: String,
    },
    /// Stop trusting a publisher: the tenant's bindings of its plugins stop.
    Remove {
        #[command(flatten)]
        admin: AdminArgs,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The publisher, or `unsigned`.
        publisher: String,
    },
    /// Whom the tenant trusts.
    List {
        #[command(flatten)]
        admin: AdminArgs,
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
}

/// A plugin's identity on the command line: `PUBLISHER/NAME`.
#[derive(Debug, Clone)]
struct PluginRef {
    publisher: String,
    name: String,
}

impl std::fmt::Display for PluginRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.publisher, self.name)
    }
}

fn parse_plugin_ref(s: &str) -> Result<PluginRef, String> {
    let ok =
        |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    match s.split_once('/') {
        Some((publisher, name)) if ok(publisher) && ok(name) => {
            Ok(PluginRef { publisher: publisher.to_string(), name: name.to_string() })
        }
        _ => Err(format!(
            "`{s}` is not PUBLISHER/NAME: a plugin is named with its publisher, e.g. smsdesk/demo-crm, \
             acme/crm-lookup or unsigned/my-plugin (`smsdesk plugin list` shows them)"
        )),
    }
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Set a secret; the value is read from standard input (never from the
    /// command line, where other users and shell history would see it).
    Set {
        #[command(flatten)]
        target: SecretArgs,
        /// The secret's name (a-z, 0-9, - and _).
        name: String,
        /// Inject it as a header on requests to this host instead of giving it to the plugin …
        #[arg(long, requires = "header_name")]
        header_host: Option<String>,
        /// … under this header name (for example `Authorization`).
        #[arg(long, requires = "header_host")]
        header_name: Option<String>,
    },
    /// Delete a secret.
    Delete {
        #[command(flatten)]
        target: SecretArgs,
        /// The secret's name.
        name: String,
    },
    /// List the names (never the values).
    List {
        #[command(flatten)]
        target: SecretArgs,
    },
}

/// Whose secrets.
#[derive(Debug, Args)]
struct SecretArgs {
    #[command(flatten)]
    admin: AdminArgs,
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// The plugin: PUBLISHER/NAME.
    #[arg(long, value_parser = parse_plugin_ref)]
    plugin: PluginRef,
}

/// Where the admin API is and who calls it.
#[derive(Debug, Args)]
struct AdminArgs {
    /// The host's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// An admin token (default: `SMSDESK_ADMIN_TOKEN`).
    #[arg(long, env = "SMSDESK_ADMIN_TOKEN", hide_env_values = true)]
    token: String,
}

/// One managed binding.
#[derive(Debug, Args)]
struct BindingArgs {
    #[command(flatten)]
    admin: AdminArgs,
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// classifier, crm or responder.
    #[arg(long)]
    role: String,
    /// The plugin: PUBLISHER/NAME.
    #[arg(long, value_parser = parse_plugin_ref)]
    plugin: PluginRef,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The component (.wasm), or `builtin:NAME` for a first-party plugin.
    file: PathBuf,
    /// The role to run: classifier, crm or responder.
    #[arg(long)]
    role: Role,
    /// The inbound text (classifier, responder).
    #[arg(long, default_value = "")]
    text: String,
    /// The customer's number (and the number a CRM looks up).
    #[arg(long, default_value = "+15551234567")]
    from: String,
    /// The tenant the call is made for.
    #[arg(long, default_value = "demo")]
    tenant: String,
    /// The plugin's configuration for the tenant (TOML or JSON file).
    #[arg(long)]
    config: Option<PathBuf>,
    /// An intent given to a responder, as LABEL=CONFIDENCE (repeatable).
    #[arg(long = "intent", value_parser = parse_intent)]
    intents: Vec<Intent>,
    /// Grant the call a capability (repeatable), as an admin would a
    /// binding: `outbound-http:HOST`, plus `outbound-http-insecure:HOST` and
    /// `outbound-http-private:HOST` to try a CRM on this machine. Without
    /// one, the plugin's HTTP requests are refused.
    #[arg(long = "grant", value_parser = parse_grant)]
    grants: Vec<String>,
    /// A header the host adds to requests to HOST, as `HOST:NAME`; its value
    /// comes from the environment variable `SMSDESK_HEADER_SECRET` (kept out
    /// of the command line).
    #[arg(long, value_parser = parse_header_target)]
    header_secret: Option<(String, String)>,
}

fn parse_grant(s: &str) -> Result<String, String> {
    crate::broker::check_grant(s).map(|_| s.to_string())
}

fn parse_header_target(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((host, name)) if !host.is_empty() && !name.is_empty() => Ok((host.to_ascii_lowercase(), name.to_string())),
        _ => Err("expected HOST:HEADER-NAME, e.g. crm.example.com:Authorization".into()),
    }
}

fn parse_intent(s: &str) -> Result<Intent, String> {
    let (label, confidence) = s.split_once('=').ok_or("expected LABEL=CONFIDENCE, e.g. order-status=0.9")?;
    let confidence: f32 = confidence.parse().map_err(|_| format!("`{confidence}` is not a number"))?;
    if label.is_empty() || !(0.0..=1.0).contains(&confidence) {
        return Err("expected a label and a confidence between 0 and 1".into());
    }
    Ok(Intent { label: label.to_string(), confidence })
}

/// Parse the command line, run it, and turn errors into one line and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::CompilePlugin(args) = &cli.command {
        return crate::plugins::compile::worker_main(args.memory_bytes);
    }
    init_tracing();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SMSDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,smsdesk=info,provider=info,plugin=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn run(cli: Cli) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    rt.block_on(async move {
        match cli.command {
            Command::Plugin(PluginCommand::Inspect { file, json }) => inspect(&file, json).await,
            Command::Plugin(PluginCommand::Run(args)) => run_role(args).await,
            Command::Plugin(PluginCommand::Install { file, admin, tenant, role, config, grants }) => {
                let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
                // A server refuses an oversized upload before reading it, and
                // the connection closes under the client: ask for the limit first.
                let limits = admin_call(&admin, reqwest::Method::GET, "/admin/v1/plugins", AdminBody::None).await?;
                if let Some(max) = limits["limits"]["max_plugin_bytes"].as_u64()
                    && bytes.len() as u64 > max
                {
                    bail!(
                        "413 Payload Too Large: {} is {} bytes; this host accepts plugin uploads of at most {max} bytes \
                         (its `max_plugin_bytes`)",
                        file.display(),
                        bytes.len()
                    );
                }
                let uploaded =
                    admin_call(&admin, reqwest::Method::POST, "/admin/v1/plugins", AdminBody::Wasm(bytes)).await?;
                let p = &uploaded["plugin"];
                let identity = format!(
                    "{}/{}",
                    p["publisher"].as_str().unwrap_or_default(),
                    p["name"].as_str().unwrap_or_default()
                );
                println!(
                    "{} {identity} {} (id {}, {} bytes, roles {})",
                    if uploaded["created"] == true { "uploaded" } else { "already uploaded:" },
                    p["version"].as_str().unwrap_or_default(),
                    p["id"],
                    p["size"],
                    p["roles"]
                );
                if let (Some(tenant), Some(role)) = (tenant, role) {
                    let path = format!("/admin/v1/tenants/{tenant}/bindings/{role}/{identity}");
                    let mut body = serde_json::json!({ "version_id": p["id"] });
                    if let Some(c) = config {
                        let c: serde_json::Value =
                            serde_json::from_str(&c).context("--config must be a JSON object")?;
                        body["config"] = c;
                    }
                    if !grants.is_empty() {
                        body["grants"] = serde_json::json!(grants);
                    }
                    admin_call(&admin, reqwest::Method::PUT, &path, AdminBody::Json(body)).await?;
                    println!("bound as {role} for {tenant}; new messages use it now");
                }
                Ok(())
            }
            Command::Plugin(PluginCommand::List { admin }) => {
                let list = admin_call(&admin, reqwest::Method::GET, "/admin/v1/plugins", AdminBody::None).await?;
                println!(
                    "{:<5} {:<36} {:<10} {:<6} {:<22} {:>9}  {:<8} capabilities",
                    "id", "plugin (publisher/name)", "version", "wit", "roles", "bytes", "status"
                );
                let strings = |v: &serde_json::Value| -> Vec<String> {
                    v.as_array().into_iter().flatten().filter_map(|r| r.as_str().map(str::to_string)).collect()
                };
                for p in list["plugins"].as_array().into_iter().flatten() {
                    let capabilities = strings(&p["capabilities"]);
                    println!(
                        "{:<5} {:<36} {:<10} {:<6} {:<22} {:>9}  {:<8} {}",
                        p["id"],
                        format!(
                            "{}/{}",
                            p["publisher"].as_str().unwrap_or_default(),
                            p["name"].as_str().unwrap_or_default()
                        ),
                        p["version"].as_str().unwrap_or_default(),
                        p["wit_version"].as_str().unwrap_or_default(),
                        strings(&p["roles"]).join(","),
                        p["size"],
                        p["status"].as_str().unwrap_or_default(),
                        if capabilities.is_empty() { "-".to_string() } else { capabilities.join(",") }
                    );
                }
                Ok(())
            }
            Command::Plugin(PluginCommand::Bindings { admin, tenant }) => {
                let b = admin_call(
                    &admin,
                    reqwest::Method::GET,
                    &format!("/admin/v1/tenants/{tenant}/bindings"),
                    AdminBody::None,
                )
                .await?;
                println!("{}", serde_json::to_string_pretty(&b)?);
                Ok(())
            }
            Command::Plugin(PluginCommand::Replay {
                file,
                config,
                tenant,
                role,
                since,
                until,
                conversations,
                plugin_config,
                limit,
                format,
            }) => {
                if format != "json" && format != "table" {
                    bail!("--format must be table or json, not `{format}`");
                }
                let (cfg, store) = open_store(config.as_deref(), &tenant).await?;
                let tz = cfg.tenants.iter().find(|t| t.id == tenant).map(|t| t.time_zone.clone()).unwrap_or_default();
                let at = |s: &Option<String>, what: &str| -> Result<Option<i64>> {
                    s.as_deref()
                        .map(|s| crate::reports::parse_instant(s, &tz).map_err(|e| anyhow::anyhow!("{what}: {e}")))
                        .transpose()
                };
                let (since, until) = (at(&since, "--since")?, at(&until, "--until")?);
                let plugin = load_file(&file).await?;
                let role =
                    role.unwrap_or(if plugin.has_role(Role::Responder) { Role::Responder } else { Role::Classifier });
                let plugin_config = match plugin_config {
                    None => PluginConfig::default(),
                    Some(text) => {
                        let v: serde_json::Value =
                            serde_json::from_str(&text).context("--plugin-config must be JSON")?;
                        PluginConfig::from_json_value(v).map_err(|e| anyhow::anyhow!("--plugin-config: {e}"))?
                    }
                };
                let rows = store.replay_rows(&tenant, since, until, &conversations, limit.clamp(1, 100_000)).await?;
                let call = CallContext { tenant: tenant.clone(), config: plugin_config, ..Default::default() };
                let report = crate::replay::replay(&store, &plugin, role, &call, &rows).await?;
                if format == "json" {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print!("{}", crate::replay::table(&report));
                }
                Ok(())
            }
            Command::Plugin(PluginCommand::New { name, role, dir, sdk }) => {
                let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
                let sdk = sdk.unwrap_or_else(crate::scaffold::default_sdk_path);
                crate::scaffold::create(&dir, &name, role, &sdk).map_err(anyhow::Error::msg)?;
                println!("created {} ({role} `{name}`). Next:", dir.display());
                println!("    cd {} && cargo build --release", dir.display());
                println!(
                    "    smsdesk plugin test target/wasm32-wasip2/release/{}.wasm --cases cases.yaml",
                    name.replace('-', "_")
                );
                Ok(())
            }
            Command::Plugin(PluginCommand::Test { file, cases, role, json }) => {
                let text =
                    std::fs::read_to_string(&cases).with_context(|| format!("cannot read {}", cases.display()))?;
                let parsed =
                    crate::plugintest::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", cases.display()))?;
                let plugin = load_file(&file).await?;
                let role = match role {
                    Some(r) => r,
                    None if plugin.roles().len() == 1 => plugin.roles()[0],
                    None if plugin.has_role(Role::Responder) => Role::Responder,
                    None => bail!("the component has several roles: give --role"),
                };
                if !plugin.has_role(role) {
                    bail!("plugin `{}` does not export the {role} role", plugin.name());
                }
                let results = crate::plugintest::run(&plugin, role, &parsed).await.map_err(anyhow::Error::msg)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&results)?);
                } else {
                    print!("{}", crate::plugintest::table(&results));
                }
                if results.iter().any(|r| !r.passed) {
                    std::process::exit(1);
                }
                Ok(())
            }
            Command::Plugin(PluginCommand::Enable(b)) => binding_action(b, "enable").await,
            Command::Plugin(PluginCommand::Disable(b)) => binding_action(b, "disable").await,
            Command::Plugin(PluginCommand::Rollback(b)) => binding_action(b, "rollback").await,
            Command::Plugin(PluginCommand::Secret(c)) => secret(c).await,
            Command::Plugin(PluginCommand::Keygen { out }) => keygen(&out),
            Command::Plugin(PluginCommand::Sign { file, key, out }) => sign(&file, &key, out.as_deref()),
            Command::Plugin(PluginCommand::Publisher(c)) => publisher(c).await,
            Command::Plugin(PluginCommand::Trust(c)) => trust(c).await,
            Command::Serve { config, database_url } => {
                let mut config = crate::config::Config::load(config.as_deref()).map_err(anyhow::Error::msg)?;
                if database_url.is_some() {
                    config.database_url = database_url;
                }
                serve(config, None).await
            }
            Command::Demo { bind, data_dir, database_url } => {
                let data_dir = data_dir.unwrap_or_else(crate::demo::fresh_data_dir);
                let mut config = crate::demo::config(data_dir, bind);
                config.database_url = database_url;
                serve(config, Some(())).await
            }
            Command::CompilePlugin(_) => unreachable!("handled before the runtime starts"),
            Command::Chat { server, from, to, auth_token, api_token } => {
                crate::demo::chat(crate::demo::ChatOptions { server, from, to, auth_token, api_token }).await
            }
            Command::Consent(ConsentCommand::Check { text, json, config, tenant }) => {
                consent_check(&text, json, config.as_deref(), tenant.as_deref())
            }
            Command::Consent(ConsentCommand::Export { config, tenant, contact, format }) => {
                consent_export(config.as_deref(), &tenant, contact.as_deref(), &format).await
            }
            Command::Report { config, tenant, since, until, format } => {
                report(config.as_deref(), &tenant, &since, until.as_deref(), &format).await
            }
            Command::User(UserCommand::Token) => {
                let mut bytes = [0u8; 24];
                std::io::Read::read_exact(
                    &mut std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?,
                    &mut bytes,
                )
                .context("reading /dev/urandom")?;
                let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                println!("token        = \"{token}\"   # give this to the user, once");
                println!("token_sha256 = \"{}\"", crate::config::sha256_hex(&token));
                Ok(())
            }
            Command::Sms(SmsCommand::Segments { text }) => {
                println!("{}", serde_json::to_string(&crate::messaging::segments::analyze(&text))?);
                Ok(())
            }
        }
    })
}

async fn serve(config: crate::config::Config, demo: Option<()>) -> Result<()> {
    let data_dir = config.data_dir.clone();
    let database = config.database_url.clone().filter(|u| !u.starts_with("sqlite:"));
    let server = crate::server::start(config).await?;
    let addr = server.addr;
    if demo.is_some() {
        match &database {
            Some(url) => println!(
                "smsdesk demo is running on http://{addr} (database {}, files in {})",
                crate::store::redact_url(url),
                data_dir.display()
            ),
            None => println!("smsdesk demo is running on http://{addr} (data in {})", data_dir.display()),
        }
        println!("Tenant \"Demo Outfitters\" answers {} with the first-party plugins;", crate::demo::DEMO_NUMBER);
        println!("replies go to the log provider. Text it from another terminal:");
        println!();
        println!("    cargo run -- chat --server http://{addr}");
        println!();
        println!("Try \"Where is my order?\", \"What are your hours?\" or \"I want to talk to a person\".");
        println!(
            "Read API: curl -H 'Authorization: Bearer {}' http://{addr}/api/v1/conversations",
            crate::demo::DEMO_API_TOKEN
        );
        println!();
        println!("Agent inbox: http://{addr}/inbox — sign in as the demo agent Sam with the token");
        println!("    {}", crate::demo::DEMO_AGENT_TOKEN);
        println!("(Lee: {}; admin, for reports: {})", crate::demo::DEMO_AGENT2_TOKEN, crate::demo::DEMO_ADMIN_TOKEN);
    } else {
        println!("smsdesk is listening on http://{addr}");
    }
    server.serve_until(stop_signal()).await
}

/// Ctrl-C, or SIGTERM (what a process manager or a load balancer's
/// orchestrator sends to stop a replica).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("stopping: finishing the work in flight");
}

/// Where the CLI keeps precompiled components between runs.
fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SMSDESK_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("smsdesk").join("artifacts"))
}

async fn load_file(file: &Path) -> Result<LoadedPlugin> {
    let bytes = file
        .to_str()
        .filter(|f| f.starts_with("builtin:"))
        .map(crate::pipeline::bindings::read_source)
        .unwrap_or_else(|| std::fs::read(file).with_context(|| format!("cannot read {}", file.display())))?;
    let runtime =
        Runtime::new(RuntimeConfig { cache_dir: default_cache_dir(), max_instances: 16, ..Default::default() })?;
    let label = file.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
    let label = label.strip_prefix("builtin:").unwrap_or(label);
    let plugin = runtime.load(label, bytes, Default::default()).await.with_context(|| format!("{}", file.display()))?;
    Ok(plugin)
}

async fn inspect(file: &Path, json: bool) -> Result<()> {
    let plugin = load_file(file).await?;
    let m = plugin.manifest();
    let info = plugin.info();
    // What it asks the compiler to do, against this host's compile limits.
    let bytes = file
        .to_str()
        .filter(|f| f.starts_with("builtin:"))
        .map(crate::pipeline::bindings::read_source)
        .unwrap_or_else(|| std::fs::read(file).with_context(|| format!("cannot read {}", file.display())))?;
    let counts = crate::plugins::compile::count(&bytes).map_err(anyhow::Error::msg)?;
    if json {
        let value = serde_json::json!({
            "name": m.name,
            "version": m.version,
            "description": m.description,
            "roles": info.roles,
            "wit_version": info.wit_version,
            "capabilities": m.capabilities.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "imports": info.imports,
            "exports": info.exports,
            "size": info.size,
            "sha256": info.sha256,
            "publisher_key": info.publisher_key,
            "compile": counts,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let list = |items: Vec<String>| if items.is_empty() { "(none)".to_string() } else { items.join(", ") };
    println!("name:         {}", m.name);
    println!("version:      {}", m.version);
    println!("description:  {}", m.description);
    println!("roles:        {}", list(info.roles.iter().map(|r| r.to_string()).collect()));
    println!("wit version:  {}", info.wit_version.as_deref().unwrap_or("unknown"));
    println!("capabilities: {}", list(m.capabilities.iter().map(|c| c.to_string()).collect()));
    println!("imports:      {}", list(info.imports.clone()));
    println!("exports:      {}", list(info.exports.clone()));
    println!("size:         {} bytes", info.size);
    let limits = crate::plugins::CompileLimits::default();
    println!(
        "code:         {} functions (limit {}), {} bytes of code (limit {}), {} nested modules",
        counts.functions, limits.max_functions, counts.code_bytes, limits.max_code_bytes, counts.nested
    );
    println!("sha256:       {}", info.sha256);
    let signed = match info.publisher_key.as_deref() {
        None => "unsigned".to_string(),
        Some(k) if k == smsdesk_artifacts::first_party::PUBLISHER_KEY => format!("{k} (smsdesk, first party)"),
        Some(k) => format!("{k} (valid signature)"),
    };
    println!("signed by:    {signed}");
    Ok(())
}

async fn run_role(args: RunArgs) -> Result<()> {
    let config = match &args.config {
        None => PluginConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            PluginConfig::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
    };
    let plugin = load_file(&args.file).await?;
    if !plugin.has_role(args.role) {
        bail!(
            "{}: plugin `{}` does not export the `{}` role (it exports: {})",
            args.file.display(),
            plugin.name(),
            args.role,
            plugin.roles().iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut policy = crate::broker::Policy::from_grants(&args.grants);
    if let Some((host, name)) = &args.header_secret {
        let value = std::env::var("SMSDESK_HEADER_SECRET")
            .context("--header-secret needs the value in the SMSDESK_HEADER_SECRET environment variable")?;
        policy.secret_headers.push((host.clone(), name.clone(), value));
    }
    let ctx =
        CallContext { tenant: args.tenant.clone(), config, http: std::sync::Arc::new(policy), ..Default::default() };
    let message = InboundMessage {
        id: "cli-1".into(),
        tenant: args.tenant.clone(),
        from: args.from.clone(),
        to: "+15550000000".into(),
        body: args.text.clone(),
        received_at: "1970-01-01T00:00:00Z".into(),
        media_urls: Vec::new(),
    };
    let context = ConversationContext { conversation_id: "cli".into(), history: Vec::new(), profile: None };
    // Printed through typed structs (not `json!`) so confidences keep their f32 digits.
    #[derive(serde::Serialize)]
    struct Output<'a> {
        plugin: &'a str,
        role: Role,
        #[serde(skip_serializing_if = "Option::is_none")]
        intents: Option<Vec<Intent>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        profile: Option<Option<crate::domain::CustomerProfile>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        decision: Option<crate::domain::Decision>,
    }
    let mut output = Output { plugin: plugin.name(), role: args.role, intents: None, profile: None, decision: None };
    match args.role {
        Role::Classifier => output.intents = Some(plugin.classify(&ctx, &message, &context).await?),
        Role::Crm => output.profile = Some(plugin.lookup(&ctx, &args.from).await?),
        Role::Responder => output.decision = Some(plugin.respond(&ctx, &message, &context, &args.intents).await?),
    }
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

fn consent_check(text: &str, json: bool, config: Option<&Path>, tenant: Option<&str>) -> Result<()> {
    let keywords = match (config, tenant) {
        (_, None) => crate::consent::Keywords::default(),
        (config, Some(id)) => {
            let config = crate::config::Config::load(config).map_err(anyhow::Error::msg)?;
            let t = config.tenants.iter().find(|t| t.id == id).with_context(|| format!("no tenant `{id}`"))?;
            t.consent.keywords.clone()
        }
    };
    let check = crate::consent::check(text, &keywords);
    if json {
        let value = serde_json::json!({
            "text": text,
            "verdict": check.verdict.as_str(),
            "reason": check.reason,
            "explanation": check.reason.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{} ({})", check.verdict.as_str(), check.reason);
    }
    Ok(())
}

enum AdminBody {
    None,
    Json(serde_json::Value),
    Wasm(Vec<u8>),
}

/// Call the admin API; a 4xx/5xx becomes an error with the server's message.
async fn admin_call(
    admin: &AdminArgs,
    method: reqwest::Method,
    path: &str,
    body: AdminBody,
) -> Result<serde_json::Value> {
    let url = format!("{}{path}", admin.server.trim_end_matches('/'));
    let mut req = reqwest::Client::new().request(method, &url).bearer_auth(&admin.token);
    req = match body {
        AdminBody::None => req,
        AdminBody::Json(v) => req.json(&v),
        AdminBody::Wasm(bytes) => req.header("content-type", "application/wasm").body(bytes),
    };
    let res = req.send().await.with_context(|| format!("cannot reach {url}"))?;
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        let why = json["error"].as_str().map(str::to_string).unwrap_or(text);
        bail!("{status}: {why}");
    }
    Ok(json)
}

async fn secret(command: SecretCommand) -> Result<()> {
    let base = |t: &SecretArgs| format!("/admin/v1/tenants/{}/plugins/{}/secrets", t.tenant, t.plugin);
    match command {
        SecretCommand::Set { target, name, header_host, header_name } => {
            let mut value = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut value)
                .context("reading the secret from stdin")?;
            let value = value.trim_end_matches(['\r', '\n']).to_string();
            if value.is_empty() {
                bail!("no secret on standard input (pipe it in: `printf %s \"$TOKEN\" | smsdesk plugin secret set …`)");
            }
            let mut body = serde_json::json!({ "value": value });
            if let (Some(host), Some(header)) = (&header_host, &header_name) {
                body["header"] = serde_json::json!({ "host": host, "name": header });
            }
            let path = format!("{}/{name}", base(&target));
            admin_call(&target.admin, reqwest::Method::PUT, &path, AdminBody::Json(body)).await?;
            match (header_host, header_name) {
                (Some(host), Some(header)) => {
                    println!("set `{name}` for {} in {}: sent as `{header}` to {host}", target.plugin, target.tenant)
                }
                _ => println!("set `{name}` for {} in {}", target.plugin, target.tenant),
            }
            Ok(())
        }
        SecretCommand::Delete { target, name } => {
            let path = format!("{}/{name}", base(&target));
            admin_call(&target.admin, reqwest::Method::DELETE, &path, AdminBody::None).await?;
            println!("deleted `{name}` for {} in {}", target.plugin, target.tenant);
            Ok(())
        }
        SecretCommand::List { target } => {
            let listed = admin_call(&target.admin, reqwest::Method::GET, &base(&target), AdminBody::None).await?;
            let secrets = listed["secrets"].as_array().cloned().unwrap_or_default();
            if secrets.is_empty() {
                println!("no secrets for {} in {}", target.plugin, target.tenant);
            }
            for s in secrets {
                let header = match (s["header"]["name"].as_str(), s["header"]["host"].as_str()) {
                    (Some(n), Some(h)) => format!("header `{n}` to {h}"),
                    _ => "configuration value".into(),
                };
                println!(
                    "{:<24} {:<40} set by {}",
                    s["name"].as_str().unwrap_or_default(),
                    header,
                    s["updated_by"].as_str().unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

fn keygen(out: &Path) -> Result<()> {
    let key = smsdesk_signing::SecretKey::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).with_context(|| format!("cannot create {} (it must not exist)", out.display()))?;
    std::io::Write::write_all(&mut file, key.to_file_text().as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    let public = key.public();
    println!("{public}");
    eprintln!("secret key written to {} (keep it safe and out of the repository)", out.display());
    eprintln!("sign:     smsdesk plugin sign PLUGIN.wasm --key {}", out.display());
    eprintln!("register: smsdesk plugin publisher add NAME --key {public}");
    Ok(())
}

fn sign(file: &Path, key: &Path, out: Option<&Path>) -> Result<()> {
    let text = std::fs::read_to_string(key).with_context(|| format!("cannot read {}", key.display()))?;
    let key = smsdesk_signing::SecretKey::from_file_text(&text).with_context(|| format!("{}", key.display()))?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let signed = smsdesk_signing::sign(&bytes, &key).with_context(|| format!("{}", file.display()))?;
    let out = out.unwrap_or(file);
    // Write then rename: never half a file.
    let tmp = out.with_extension(format!("wasm.tmp{}", std::process::id()));
    std::fs::write(&tmp, &signed).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    println!("signed {} as {} (fingerprint {})", out.display(), key.public(), key.public().fingerprint());
    Ok(())
}

async fn publisher(command: PublisherCommand) -> Result<()> {
    match command {
        PublisherCommand::Add { admin, name, key } => {
            let out = admin_call(
                &admin,
                reqwest::Method::PUT,
                &format!("/admin/v1/publishers/{name}"),
                AdminBody::Json(serde_json::json!({ "key": key })),
            )
            .await?;
            let verb = if out["created"] == true { "registered" } else { "already registered:" };
            println!("{verb} publisher `{name}` with {}", out["publisher"]["public_key"].as_str().unwrap_or_default());
            println!("trust it for a tenant: smsdesk plugin trust add --tenant TENANT {name}");
        }
        PublisherCommand::List { admin } => {
            let out = admin_call(&admin, reqwest::Method::GET, "/admin/v1/publishers", AdminBody::None).await?;
            for p in out["publishers"].as_array().into_iter().flatten() {
                println!(
                    "{:<24} {}{}",
                    p["name"].as_str().unwrap_or_default(),
                    p["public_key"].as_str().unwrap_or_default(),
                    if p["built_in"] == true { "  (built in)" } else { "" }
                );
            }
        }
        PublisherCommand::Remove { admin, name } => {
            admin_call(&admin, reqwest::Method::DELETE, &format!("/admin/v1/publishers/{name}"), AdminBody::None)
                .await?;
            println!("removed publisher `{name}`");
        }
    }
    Ok(())
}

async fn trust(command: TrustCommand) -> Result<()> {
    match command {
        TrustCommand::Add { admin, tenant, publisher } => {
            let path = format!("/admin/v1/tenants/{tenant}/publishers/{publisher}");
            admin_call(&admin, reqwest::Method::PUT, &path, AdminBody::None).await?;
            if publisher == "unsigned" {
                println!("{tenant} now allows unsigned plugins");
            } else {
                println!("{tenant} now trusts publisher `{publisher}`");
            }
        }
        TrustCommand::Remove { admin, tenant, publisher } => {
            let path = format!("/admin/v1/tenants/{tenant}/publishers/{publisher}");
            admin_call(&admin, reqwest::Method::DELETE, &path, AdminBody::None).await?;
            println!("{tenant} no longer trusts `{publisher}`; its bindings of those plugins stopped");
        }
        TrustCommand::List { admin, tenant } => {
            let path = format!("/admin/v1/tenants/{tenant}/publishers");
            let out = admin_call(&admin, reqwest::Method::GET, &path, AdminBody::None).await?;
            for t in out["trusted"].as_array().into_iter().flatten() {
                println!(
                    "{:<24} {}",
                    t["publisher"].as_str().unwrap_or_default(),
                    t["public_key"].as_str().unwrap_or("(key no longer registered)")
                );
            }
            println!("unsigned plugins: {}", if out["allow_unsigned"] == true { "allowed" } else { "not allowed" });
        }
    }
    Ok(())
}

async fn binding_action(b: BindingArgs, action: &str) -> Result<()> {
    let path = format!("/admin/v1/tenants/{}/bindings/{}/{}/{action}", b.tenant, b.role, b.plugin);
    let out = admin_call(&b.admin, reqwest::Method::POST, &path, AdminBody::None).await?;
    let binding = &out["binding"];
    println!(
        "{} {} for {}: version id {}, {}",
        b.plugin,
        b.role,
        b.tenant,
        binding["version_id"],
        if binding["enabled"] == true { "enabled" } else { "disabled" }
    );
    Ok(())
}

/// Open the database of a configuration that has `tenant`.
async fn open_store(config: Option<&Path>, tenant: &str) -> Result<(crate::config::Config, crate::store::Store)> {
    let config = crate::config::Config::load(config).map_err(anyhow::Error::msg)?;
    if !config.tenants.iter().any(|t| t.id == tenant) {
        bail!("no tenant `{tenant}` in the configuration");
    }
    let store = open_existing(&config).await?;
    Ok((config, store))
}

/// The database of a configuration's host, which must exist (a tool that
/// reads it never creates an empty one), on either engine.
async fn open_existing(config: &crate::config::Config) -> Result<crate::store::Store> {
    let url = config.database_url();
    let shown = crate::store::redact_url(&url);
    if !crate::store::Store::exists(&url).await? {
        bail!("no database at {}: start the host with this configuration first", shown.trim_start_matches("sqlite://"));
    }
    Ok(crate::store::Store::open_pooled(&url, config.durability, config.database_max_connections).await?)
}

async fn report(config: Option<&Path>, tenant: &str, since: &str, until: Option<&str>, format: &str) -> Result<()> {
    if format != "json" && format != "table" {
        bail!("--format must be table or json, not `{format}`");
    }
    let (config, store) = open_store(config, tenant).await?;
    let tz = config.tenants.iter().find(|t| t.id == tenant).map(|t| t.time_zone.clone()).unwrap_or_default();
    let since = crate::reports::parse_instant(since, &tz).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let until = match until {
        Some(u) => crate::reports::parse_instant(u, &tz).map_err(|e| anyhow::anyhow!("--until: {e}"))?,
        None => store.now(),
    };
    if until <= since {
        bail!("--until must be after --since");
    }
    let data = store.report_data(tenant, since, until).await?;
    let report = crate::reports::compute(tenant, since, until, &data);
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::reports::table(&report));
    }
    Ok(())
}

async fn consent_export(config: Option<&Path>, tenant: &str, contact: Option<&str>, format: &str) -> Result<()> {
    if format != "json" && format != "csv" {
        bail!("--format must be json or csv, not `{format}`");
    }
    let config = crate::config::Config::load(config).map_err(anyhow::Error::msg)?;
    if !config.tenants.iter().any(|t| t.id == tenant) {
        bail!("no tenant `{tenant}` in the configuration");
    }
    let contact = contact.map(crate::domain::E164::parse).transpose().map_err(anyhow::Error::msg)?;
    let store = open_existing(&config).await?;
    let events = store.consent_ledger(tenant, contact.as_ref().map(|c| c.as_str())).await?;
    if format == "csv" {
        print!("{}", crate::consent::ledger::to_csv(&events));
    } else {
        println!("{}", serde_json::to_string_pretty(&crate::consent::ledger::to_json(tenant, &events))?);
    }
    Ok(())
}
