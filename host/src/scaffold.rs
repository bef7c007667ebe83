//! `smsdesk plugin new NAME --role ROLE`: a Rust plugin crate that builds
//! with one command (`cargo build --release`, for `wasm32-wasip2` through
//! `.cargo/config.toml`) and carries a `cases.yaml` for `smsdesk plugin test`.

use crate::domain::Role;
use std::path::{Path, PathBuf};

/// Where this build's SDK sits (the repository it was built from).
pub fn default_sdk_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk")
}

/// Is `name` a usable plugin and crate name (kebab-case)?
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok { Ok(()) } else { Err(format!("`{name}` is not a plugin name: use kebab-case like `order-bot`")) }
}

fn code(name: &str, role: Role) -> String {
    let ty = name
        .split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect::<String>();
    let head = format!(
        "//! {name}: a smsdesk {role}. Build: `cargo build --release`; test:\n\
         //! `smsdesk plugin test target/wasm32-wasip2/release/{crate_name}.wasm --cases cases.yaml`.\n\n\
         use smsdesk_sdk::*;\n\n\
         struct {ty};\n\n\
         impl Plugin for {ty} {{\n    const NAME: &'static str = \"{name}\";\n    const VERSION: &'static str = \"0.1.0\";\n}}\n\n",
        crate_name = name.replace('-', "_"),
    );
    let body = match role {
        Role::Responder => format!(
            "impl Responder for {ty} {{\n    fn respond(\n        message: &InboundMessage,\n        context: &ConversationContext,\n        intents: &[Intent],\n    ) -> Result<Decision, PluginError> {{\n        // People first: a customer who asks for one gets one.\n        if intents.iter().any(|i| i.label == \"human-request\" && i.confidence >= 0.7) {{\n            return Ok(Decision::handoff(\"Customer asked for a person\", Priority::Normal));\n        }}\n        let name = context.profile.as_ref().and_then(|p| p.name.clone()).unwrap_or_else(|| \"there\".to_string());\n        Ok(Decision::reply(format!(\"Hi {{name}}! We got your message: {{}}\", message.body)))\n    }}\n}}\n\nexport!({ty}: responder);\n"
        ),
        Role::Classifier => format!(
            "impl Classifier for {ty} {{\n    fn classify(message: &InboundMessage, _context: &ConversationContext) -> Result<Vec<Intent>, PluginError> {{\n        let text = message.body.to_lowercase();\n        let mut intents = Vec::new();\n        if text.contains(\"refund\") {{\n            intents.push(Intent::new(\"refund\", 0.9));\n        }}\n        if text.contains(\"person\") || text.contains(\"human\") {{\n            intents.push(Intent::new(\"human-request\", 0.9));\n        }}\n        Ok(intents)\n    }}\n}}\n\nexport!({ty}: classifier);\n"
        ),
        Role::Crm => format!(
            "impl Crm for {ty} {{\n    fn lookup(phone: &str, _tenant: &str) -> Result<Option<CustomerProfile>, PluginError> {{\n        // Replace with a lookup in your CRM. Over HTTP: ask for its host in the\n        // `Plugin` impl (`fn capabilities() -> Vec<Capability> {{ vec![Capability::OutboundHttp(\"crm.example.com\".into())] }}`),\n        // have an admin grant it and attach your API key as a header secret\n        // (`smsdesk plugin secret set … --header-host crm.example.com --header-name Authorization`), then:\n        //     let r = http::Request::get(format!(\"https://crm.example.com/customers?phone={{}}\", phone.replace('+', \"%2B\"))).send()?;\n        //     if r.status == 404 {{ return Ok(None); }}\n        //     let body = r.text(); // or `r.json::<YourType>()?` with serde\n        if phone == \"+15551234567\" {{\n            return Ok(Some(CustomerProfile {{\n                id: \"cus_1\".to_string(),\n                name: Some(\"Ana\".to_string()),\n                tier: None,\n                attributes: vec![(\"last-order-id\".to_string(), \"1042\".to_string())],\n            }}));\n        }}\n        Ok(None)\n    }}\n}}\n\nexport!({ty}: crm);\n"
        ),
    };
    head + &body
}

fn cases(role: Role) -> &'static str {
    match role {
        Role::Responder => {
            "# smsdesk plugin test target/wasm32-wasip2/release/<crate>.wasm --cases cases.yaml\ncases:\n  - name: greets a known customer by name\n    text: \"Where is my order?\"\n    profile: { id: c1, name: Ana }\n    expect:\n      action: reply\n      reply_contains: \"Hi Ana\"\n  - name: hands off when asked for a person\n    text: \"I want to talk to a person\"\n    intents: { human-request: 0.95 }\n    expect:\n      action: handoff\n      priority: normal\n"
        }
        Role::Classifier => {
            "# smsdesk plugin test target/wasm32-wasip2/release/<crate>.wasm --cases cases.yaml\ncases:\n  - name: a refund request\n    text: \"I want a refund\"\n    expect:\n      intent: refund\n      min_confidence: 0.8\n  - name: small talk finds nothing\n    text: \"thanks!\"\n    expect:\n      no_intent: true\n"
        }
        Role::Crm => {
            "# smsdesk plugin test target/wasm32-wasip2/release/<crate>.wasm --cases cases.yaml\ncases:\n  - name: a known customer\n    from: \"+15551234567\"\n    expect:\n      found: true\n      profile_name: Ana\n  - name: a stranger\n    from: \"+15550000001\"\n    expect:\n      found: false\n"
        }
    }
}

/// Write the crate into `dir` (which must not exist or be empty). Returns the files written.
pub fn create(dir: &Path, name: &str, role: Role, sdk: &Path) -> Result<Vec<PathBuf>, String> {
    check_name(name)?;
    if dir.exists() && dir.read_dir().map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(format!("{} already exists and is not empty", dir.display()));
    }
    let sdk = sdk.canonicalize().map_err(|e| format!("the SDK at {}: {e}", sdk.display()))?;
    if !sdk.join("Cargo.toml").exists() {
        return Err(format!("{} is not the smsdesk SDK (no Cargo.toml)", sdk.display()));
    }
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\nsmsdesk-sdk = {{ path = {sdk:?} }}\n\n[profile.release]\nopt-level = \"s\"\nlto = true\nstrip = true\n\n# A crate of its own, not part of an enclosing workspace.\n[workspace]\n",
        sdk = sdk.display().to_string()
    );
    let readme = format!(
        "# {name}\n\nA smsdesk {role} plugin.\n\n```sh\ncargo build --release      # → target/wasm32-wasip2/release/{crate_name}.wasm\nsmsdesk plugin test target/wasm32-wasip2/release/{crate_name}.wasm --cases cases.yaml\nsmsdesk plugin install target/wasm32-wasip2/release/{crate_name}.wasm --tenant TENANT --role {role}\n```\n\nNeeds the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`). See the\nsmsdesk guide for plugin authors, `docs/plugins.md`.\n",
        crate_name = name.replace('-', "_")
    );
    let files: Vec<(PathBuf, String)> = vec![
        (dir.join("Cargo.toml"), manifest),
        (dir.join(".cargo/config.toml"), "[build]\ntarget = \"wasm32-wasip2\"\n".to_string()),
        (dir.join("src/lib.rs"), code(name, role)),
        (dir.join("cases.yaml"), cases(role).to_string()),
        (dir.join("README.md"), readme),
        (dir.join(".gitignore"), "/target\n".to_string()),
    ];
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    // Start from the SDK's own lock file, so the crate builds with the
    // dependency versions the SDK is tested with.
    if let Some(lock) = sdk.parent().map(|root| root.join("Cargo.lock"))
        && lock.exists()
    {
        let _ = std::fs::copy(&lock, dir.join("Cargo.lock"));
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}
