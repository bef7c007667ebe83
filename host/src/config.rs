//! Configuration: a TOML file, then `SMSDESK_*` environment overrides, then
//! checks. Everything has a default except tenants.

use crate::domain::Role;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration of a host process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the database, the plugin cache and other state live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The HTTP listen address.
    #[serde(default = "default_bind")]
    pub bind: SocketAddr,
    /// `sqlite://PATH` (default: `sqlite://<data_dir>/smsdesk.db`).
    #[serde(default)]
    pub database_url: Option<String>,
    /// This replica's name on the work leases it takes (several replicas
    /// share one PostgreSQL database). Restarting a replica under the same
    /// name releases the leases its earlier run held at once; other
    /// replicas' leases run out when they stop renewing them. Default:
    /// `HOSTNAME:PORT` of `bind`.
    #[serde(default)]
    pub replica_id: Option<String>,
    /// PostgreSQL: connections this replica's pool opens at most (it also
    /// keeps one for listening to the other replicas and, while it leads
    /// housekeeping, one for the lock). SQLite: unused.
    #[serde(default = "default_database_max_connections")]
    pub database_max_connections: u32,
    /// `normal`: survives a killed process (WAL, synchronous=NORMAL).
    /// `full`: also survives power loss (synchronous=FULL).
    #[serde(default)]
    pub durability: Durability,
    /// The public URL the provider calls (scheme://host[:port], no path), for
    /// signature checks behind a proxy. Default: the request's own Host header.
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// Pipeline workers. Each claims a batch of jobs and writes the batch's
    /// outcomes in one transaction; with SQLite's single writer one worker is
    /// fastest (measured in BENCHMARKS.md).
    #[serde(default = "default_workers")]
    pub pipeline_workers: usize,
    /// Outbox workers; each sends a batch concurrently.
    #[serde(default = "default_workers")]
    pub outbox_workers: usize,
    /// Where precompiled plugins are kept (default: `<data_dir>/plugin-cache`).
    /// Several hosts (or test runs) may share one: entries are keyed by the
    /// component's hash and the engine's settings.
    #[serde(default)]
    pub plugin_cache_dir: Option<PathBuf>,
    /// How long a CRM profile is cached per contact, in seconds.
    #[serde(default = "default_profile_ttl")]
    pub profile_ttl_secs: u64,
    /// The tenants (brands) this host serves.
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// Host administrators: they install plugins and bind them to tenants
    /// through `/admin/v1` (id, name, `token_sha256` or `token`).
    #[serde(default)]
    pub admins: Vec<UserConfig>,
    /// Development: reload a configured `.wasm` plugin when its file changes
    /// (also `SMSDESK_WATCH_PLUGINS=1`).
    #[serde(default)]
    pub watch_plugins: bool,
    /// Largest plugin component accepted by the admin API, in bytes.
    #[serde(default = "default_max_plugin_bytes")]
    pub max_plugin_bytes: usize,
    /// Memory a compile worker may use to compile one component, in MiB
    /// (components are compiled in a child process; one that needs more is refused).
    #[serde(default = "default_compile_memory_mib")]
    pub plugin_compile_memory_mib: u64,
    /// The `smsdesk` executable that compiles components (default: this one).
    #[serde(default)]
    pub plugin_compile_worker: Option<PathBuf>,
    /// The clock (not configurable from a file: tests use a manual one).
    #[serde(skip)]
    pub clock: crate::clock::Clock,
}

/// How hard the database works to keep an acknowledged message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Survives a killed process.
    #[default]
    Normal,
    /// Survives power loss.
    Full,
}

/// One tenant (brand).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Short id used in URLs and logs (`[a-z0-9-]`).
    pub id: String,
    /// Brand name shown to customers.
    pub name: String,
    /// Sender numbers (E.164) that belong to the tenant.
    #[serde(default)]
    pub numbers: Vec<String>,
    /// A Twilio Messaging Service SID that belongs to the tenant.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// IANA time zone (for example `America/New_York`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// The answer to HELP.
    #[serde(default)]
    pub help_text: Option<String>,
    /// Bearer token for this tenant's read API.
    #[serde(default)]
    pub api_token: Option<String>,
    /// How messages reach the tenant's customers.
    pub provider: ProviderConfig,
    /// Plugins per role, in the order they run.
    #[serde(default)]
    pub plugins: Vec<PluginBindingConfig>,
    /// Consent rules: extra keywords, quiet hours, frequency cap.
    #[serde(default)]
    pub consent: ConsentConfig,
    /// Notification templates by name: text with `{variable}` placeholders.
    #[serde(default)]
    pub templates: std::collections::BTreeMap<String, String>,
    /// Agents and admins of this tenant, each with a personal API token.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Helpdesk settings: references, reopen window, business hours, SLA,
    /// after-hours reply, CSAT, canned responses.
    #[serde(default)]
    pub tickets: crate::tickets::TicketsConfig,
}

impl TenantConfig {
    /// The ticket reference prefix: configured, or the tenant id in capitals.
    pub fn ticket_prefix(&self) -> String {
        self.tickets.prefix.clone().unwrap_or_else(|| self.id.to_ascii_uppercase())
    }
}

/// A person who works a tenant's tickets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login (`[a-z0-9._-]`), shown in timelines.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `agent` (works tickets) or `admin` (also reports, consent, plugins).
    #[serde(default)]
    pub role: UserRole,
    /// Teams the user answers for (round-robin assignment picks among them).
    #[serde(default)]
    pub teams: Vec<String>,
    /// The API token's SHA-256, hex (`smsdesk user token` makes a pair), so
    /// the file holds no secret.
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// Or the token itself (development only).
    #[serde(default)]
    pub token: Option<String>,
}

/// What a user may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    /// Works tickets.
    #[default]
    Agent,
    /// Also reads reports and the consent ledger, manages plugins.
    Admin,
}

impl UserConfig {
    /// The SHA-256 (hex) of the user's token.
    pub fn token_hash(&self) -> Option<String> {
        match (&self.token_sha256, &self.token) {
            (Some(h), _) => Some(h.to_ascii_lowercase()),
            (None, Some(t)) => Some(sha256_hex(t)),
            (None, None) => None,
        }
    }
}

/// SHA-256 of `text`, lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A tenant's consent rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentConfig {
    /// Keywords added to the standard lists.
    #[serde(default)]
    pub keywords: crate::consent::Keywords,
    /// When proactive messages may go: a preset (`federal`, `florida`,
    /// `texas`, …) or `{ start = "08:00", end = "21:00" }`. Default `federal`.
    #[serde(default = "default_quiet_hours")]
    pub quiet_hours: crate::consent::quiet::QuietHoursConfig,
    /// Most proactive messages to one contact on one subject per 24 hours.
    #[serde(default = "default_frequency_cap")]
    pub frequency_cap: usize,
    /// How customers reach support, for the HELP answer (default: the tenant's first number).
    #[serde(default)]
    pub support_contact: Option<String>,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        ConsentConfig {
            keywords: Default::default(),
            quiet_hours: default_quiet_hours(),
            frequency_cap: default_frequency_cap(),
            support_contact: None,
        }
    }
}

fn default_quiet_hours() -> crate::consent::quiet::QuietHoursConfig {
    crate::consent::quiet::QuietHoursConfig::Preset("federal".into())
}
fn default_frequency_cap() -> usize {
    3
}

/// The SMS provider of a tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ProviderConfig {
    /// Twilio's REST API (or anything speaking its wire format).
    Twilio {
        /// `AC…`
        account_sid: String,
        /// Signs webhooks and authenticates API calls.
        auth_token: String,
        /// API base URL (default `https://api.twilio.com`).
        #[serde(default = "default_twilio_base")]
        base_url: String,
    },
    /// Development: records each message and marks it delivered.
    Log {
        /// The token webhooks are signed with (as Twilio's auth token would be).
        auth_token: String,
    },
}

impl ProviderConfig {
    /// The token inbound webhooks are signed with.
    pub fn webhook_token(&self) -> &str {
        match self {
            ProviderConfig::Twilio { auth_token, .. } | ProviderConfig::Log { auth_token } => auth_token,
        }
    }
}

/// A plugin bound to a tenant in a role.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginBindingConfig {
    /// classifier, crm or responder.
    pub role: Role,
    /// A `.wasm` path (relative to the configuration file) or `builtin:NAME`.
    pub plugin: String,
    /// The plugin's configuration for this tenant.
    #[serde(default)]
    pub config: Option<toml::Table>,
    /// Grants beyond what the plugin's manifest asks for (which a configured
    /// binding gets): for local development, `outbound-http-insecure:HOST`
    /// (plain HTTP) and `outbound-http-private:HOST` (loopback or private
    /// addresses).
    #[serde(default)]
    pub grants: Vec<String>,
}

impl PluginBindingConfig {
    /// `plugin` (a path or `builtin:NAME`) in `role`, with no configuration and no extra grants.
    pub fn new(role: Role, plugin: impl Into<String>) -> Self {
        PluginBindingConfig { role, plugin: plugin.into(), config: None, grants: Vec::new() }
    }

    /// With this configuration.
    pub fn with_config(mut self, config: toml::Table) -> Self {
        self.config = Some(config);
        self
    }
}

fn default_compile_memory_mib() -> u64 {
    2048
}

fn default_max_plugin_bytes() -> usize {
    32 * 1024 * 1024
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./smsdesk-data")
}
fn default_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_database_max_connections() -> u32 {
    crate::store::DEFAULT_MAX_CONNECTIONS
}
fn default_workers() -> usize {
    1
}
fn default_profile_ttl() -> u64 {
    600
}
fn default_time_zone() -> String {
    "America/New_York".into()
}
fn default_twilio_base() -> String {
    "https://api.twilio.com".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            bind: default_bind(),
            database_url: None,
            replica_id: None,
            database_max_connections: default_database_max_connections(),
            durability: Durability::Normal,
            public_base_url: None,
            pipeline_workers: default_workers(),
            outbox_workers: default_workers(),
            profile_ttl_secs: default_profile_ttl(),
            plugin_cache_dir: None,
            tenants: Vec::new(),
            admins: Vec::new(),
            watch_plugins: false,
            max_plugin_bytes: default_max_plugin_bytes(),
            plugin_compile_memory_mib: default_compile_memory_mib(),
            plugin_compile_worker: None,
            clock: Default::default(),
        }
    }
}

impl Config {
    /// Read a file (if given), apply environment overrides, check the result.
    /// Relative plugin paths are resolved against the file's directory.
    pub fn load(path: Option<&Path>) -> Result<Config, String> {
        let mut config = match path {
            None => Config::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let mut config: Config = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let base = path.parent().unwrap_or(Path::new("."));
                for tenant in &mut config.tenants {
                    for binding in &mut tenant.plugins {
                        if !binding.plugin.starts_with("builtin:") && Path::new(&binding.plugin).is_relative() {
                            binding.plugin = base.join(&binding.plugin).display().to_string();
                        }
                    }
                }
                config
            }
        };
        config.apply_env(|key| std::env::var(key).ok())?;
        config.check()?;
        Ok(config)
    }

    /// Environment overrides: `SMSDESK_DATA_DIR`, `SMSDESK_BIND`,
    /// `SMSDESK_DATABASE_URL`, `SMSDESK_REPLICA_ID`, `SMSDESK_DURABILITY`,
    /// `SMSDESK_PUBLIC_BASE_URL`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(v) = var("SMSDESK_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = var("SMSDESK_BIND") {
            self.bind = v.parse().map_err(|_| format!("SMSDESK_BIND: `{v}` is not an address like 127.0.0.1:8080"))?;
        }
        if let Some(v) = var("SMSDESK_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = var("SMSDESK_REPLICA_ID") {
            self.replica_id = Some(v);
        }
        if let Some(v) = var("SMSDESK_DATABASE_MAX_CONNECTIONS") {
            self.database_max_connections = v
                .parse()
                .map_err(|_| format!("SMSDESK_DATABASE_MAX_CONNECTIONS: `{v}` is not a number of connections"))?;
        }
        if let Some(v) = var("SMSDESK_DURABILITY") {
            self.durability = match v.as_str() {
                "normal" => Durability::Normal,
                "full" => Durability::Full,
                _ => return Err(format!("SMSDESK_DURABILITY: `{v}` must be normal or full")),
            };
        }
        if let Some(v) = var("SMSDESK_PUBLIC_BASE_URL") {
            self.public_base_url = Some(v);
        }
        if let Some(v) = var("SMSDESK_WATCH_PLUGINS") {
            self.watch_plugins = match v.as_str() {
                "1" | "true" => true,
                "0" | "false" | "" => false,
                _ => return Err(format!("SMSDESK_WATCH_PLUGINS: `{v}` must be 1 or 0")),
            };
        }
        Ok(())
    }

    /// The database URL, defaulting to a file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("smsdesk.db").display()))
    }

    /// This replica's name (`replica_id`, else `HOSTNAME:PORT`).
    pub fn replica(&self) -> String {
        self.replica_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .or_else(|| std::env::var("HOSTNAME").ok())
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "smsdesk".into());
            format!("{host}:{}", self.bind.port())
        })
    }

    fn check(&self) -> Result<(), String> {
        if self.pipeline_workers == 0 || self.outbox_workers == 0 {
            return Err("pipeline_workers and outbox_workers must be at least 1".into());
        }
        if !(2..=1000).contains(&self.database_max_connections) {
            return Err(format!(
                "database_max_connections = {}: give 2 to 1000 (webhooks and background work each need one)",
                self.database_max_connections
            ));
        }
        if let Some(url) = &self.public_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!("public_base_url `{url}` must start with http:// or https://"));
        }
        if let Some(r) = &self.replica_id
            && (r.trim().is_empty() || r.len() > 100 || r.contains('#') || r.chars().any(char::is_control))
        {
            return Err(format!("replica_id `{r}`: give 1 to 100 printable characters without `#`"));
        }
        let mut ids = std::collections::HashSet::new();
        let mut tokens = std::collections::HashSet::new();
        for a in &self.admins {
            match (&a.token, &a.token_sha256) {
                (Some(t), None) if t.len() >= 16 => {}
                (None, Some(h)) if h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()) => {}
                _ => {
                    return Err(format!(
                        "admin `{}` needs a token of at least 16 characters or a token_sha256 of 64 hex digits (not both)",
                        a.id
                    ));
                }
            }
            if !a.token_hash().is_some_and(|h| tokens.insert(h)) {
                return Err(format!("admin `{}` has a token another admin has", a.id));
            }
        }
        let mut numbers = std::collections::HashSet::new();
        for t in &self.tenants {
            for b in &t.plugins {
                for g in &b.grants {
                    crate::broker::check_grant(g).map_err(|e| format!("tenant `{}`: {}: {e}", t.id, b.plugin))?;
                }
            }
            let ok = !t.id.is_empty()
                && t.id.len() <= 64
                && t.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(format!("tenant id `{}` must be 1 to 64 characters of a-z, 0-9 and -", t.id));
            }
            if !ids.insert(&t.id) {
                return Err(format!("tenant `{}` is configured twice", t.id));
            }
            if t.numbers.is_empty() && t.messaging_service_sid.is_none() {
                return Err(format!("tenant `{}` needs sender numbers or a messaging_service_sid", t.id));
            }
            for n in &t.numbers {
                crate::domain::E164::parse(n).map_err(|e| format!("tenant `{}`: {e}", t.id))?;
                if !numbers.insert(n) {
                    return Err(format!("number {n} belongs to two tenants"));
                }
            }
            if jiff::tz::TimeZone::get(&t.time_zone).is_err() {
                return Err(format!("tenant `{}`: unknown time zone `{}`", t.id, t.time_zone));
            }
            crate::consent::QuietHours::from_config(&t.consent.quiet_hours)
                .map_err(|e| format!("tenant `{}`: consent.quiet_hours: {e}", t.id))?;
            if t.consent.frequency_cap == 0 {
                return Err(format!("tenant `{}`: consent.frequency_cap must be at least 1", t.id));
            }
            check_tickets(t)?;
            for u in &t.users {
                if !u.token_hash().is_some_and(|h| tokens.insert(h)) {
                    return Err(format!("tenant `{}`: user `{}` has a token another user has", t.id, u.id));
                }
            }
            for (name, text) in &t.templates {
                crate::messaging::template::variables(text)
                    .map_err(|e| format!("tenant `{}`: template `{name}`: {e}", t.id))?;
            }
        }
        Ok(())
    }
}

fn check_tickets(t: &TenantConfig) -> Result<(), String> {
    let err = |e: String| format!("tenant `{}`: {e}", t.id);
    let tk = &t.tickets;
    crate::tickets::BusinessHours::parse(&tk.business_hours, &t.time_zone)
        .and_then(|h| h.with_holidays(&tk.holidays))
        .map_err(|e| err(format!("tickets.{e}")))?;
    if let Some(p) = &tk.prefix
        && (p.is_empty() || p.len() > 16 || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(err(format!("tickets.prefix `{p}` must be 1 to 16 letters, digits or -")));
    }
    if tk.reopen_window_hours < 0 {
        return Err(err("tickets.reopen_window_hours must not be negative".into()));
    }
    let after_hours = ("after_hours_reply".to_string(), tk.after_hours_reply.clone());
    for (name, text) in tk.canned.iter().chain(std::iter::once((&after_hours.0, &after_hours.1))) {
        crate::messaging::template::variables(text).map_err(|e| err(format!("tickets canned `{name}`: {e}")))?;
    }
    let mut seen = std::collections::HashSet::new();
    for u in &t.users {
        let ok = !u.id.is_empty()
            && u.id.len() <= 64
            && u.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !ok {
            return Err(err(format!("user id `{}` must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'", u.id)));
        }
        if !seen.insert(&u.id) {
            return Err(err(format!("user `{}` is configured twice", u.id)));
        }
        match (&u.token, &u.token_sha256) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(err(format!("user `{}` needs exactly one of token or token_sha256", u.id)));
            }
            (Some(token), None) if token.len() < 16 => {
                return Err(err(format!("user `{}`: a token must be at least 16 characters", u.id)));
            }
            (None, Some(h)) if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) => {
                return Err(err(format!("user `{}`: token_sha256 must be 64 hex digits", u.id)));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/smsdesk.toml")
    }

    #[test]
    fn the_example_configuration_loads() {
        let config = Config::load(Some(&example())).unwrap();
        assert_eq!(config.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.tenants.len(), 1);
        let t = &config.tenants[0];
        assert_eq!(t.plugins.len(), 3);
        assert_eq!(t.plugins[0].role, Role::Crm);
        assert_eq!(t.provider.webhook_token(), "change-me-webhook-token");
        assert_eq!(t.consent.keywords.opt_out, ["BAJA"]);
        assert_eq!(t.consent.frequency_cap, 3);
        assert!(t.templates["shipping-delay"].contains("{order}"));
        assert_eq!(t.ticket_prefix(), "OUT");
        assert_eq!(t.users.len(), 2);
        assert_eq!(t.users[1].role, UserRole::Admin);
        assert!(t.tickets.canned["goodbye"].contains("{agent_name}"));
        assert!(config.database_url().ends_with("smsdesk-data/smsdesk.db"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config = Config::load(Some(&example())).unwrap();
        let env = |k: &str| match k {
            "SMSDESK_BIND" => Some("127.0.0.1:9999".to_string()),
            "SMSDESK_DURABILITY" => Some("full".to_string()),
            "SMSDESK_DATA_DIR" => Some("/var/lib/smsdesk".to_string()),
            _ => None,
        };
        assert!(config.replica().ends_with(":8080"), "hostname and port by default: {}", config.replica());
        config.apply_env(env).unwrap();
        assert_eq!(config.bind.port(), 9999);
        config.apply_env(|k: &str| (k == "SMSDESK_REPLICA_ID").then(|| "sms-2".to_string())).unwrap();
        assert_eq!(config.replica(), "sms-2");
        assert_eq!(config.durability, Durability::Full);
        assert_eq!(config.database_url(), "sqlite:///var/lib/smsdesk/smsdesk.db");
        let bad = |k: &str| (k == "SMSDESK_DURABILITY").then(|| "sometimes".to_string());
        assert!(config.apply_env(bad).unwrap_err().contains("normal or full"));
    }

    #[test]
    fn mistakes_are_reported_clearly() {
        let base = std::fs::read_to_string(example()).unwrap();
        let cases = [
            (base.replace("America/New_York", "Mars/Olympus"), "unknown time zone `Mars/Olympus`"),
            (base.replace("\"+15557650100\"", "\"5557650100\""), "not an E.164 number"),
            (base.replace("id = \"outfitters\"", "id = \"Outfitters!\""), "tenant id `Outfitters!`"),
            (base.replace("pipeline_workers = 1", "pipeline_workers = 0"), "at least 1"),
            (base.replace("# replica_id = \"sms-1\"", "replica_id = \"sms#1\""), "replica_id `sms#1`"),
            (base.replace("durability = \"normal\"", "durability = \"maybe\""), "unknown variant `maybe`"),
            (
                base.replace("durability = \"normal\"", "durability = \"normal\"\ndatabase_max_connections = 1"),
                "database_max_connections = 1: give 2 to 1000",
            ),
            (format!("{base}\nunknown_key = 1\n"), "unknown field `unknown_key`"),
            (base.replace("\"sat 10:00-14:00\"", "\"sat 14:00-10:00\""), "the window is empty"),
            (base.replace("token_sha256 = \"9f8a", "token_sha256 = \"zz8a"), "64 hex digits"),
            (
                base.replace("\"2027-01-01 New Year's Day\"", "\"01/01/2027\""),
                "does not start with a date like 2026-12-25",
            ),
            (base.replace("id = \"kim\"", "id = \"sam\""), "configured twice"),
            (
                base.replace(
                    "plugin = \"builtin:keyword-intents\"",
                    "plugin = \"builtin:keyword-intents\"\ngrants = [\"outbound-http-privat:localhost\"]",
                ),
                "unknown grant `outbound-http-privat:localhost`",
            ),
        ];
        let dir = std::env::temp_dir().join(format!("smsdesk-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (i, (text, expected)) in cases.iter().enumerate() {
            let path = dir.join(format!("c{i}.toml"));
            std::fs::write(&path, text).unwrap();
            let err = Config::load(Some(&path)).unwrap_err();
            assert!(err.contains(expected), "{expected}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
