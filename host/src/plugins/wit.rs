//! Generated bindings for every contract version the host runs
//! (`smsdesk:plugin@0.1.0` and `@0.2.0`) and their conversion to and from
//! domain types. Nothing outside `plugins/` sees a generated type.
//!
//! Each version is its own module with the same shape (`types`, `manifest`,
//! the role interfaces, [`v1::Exports`] …), so the runtime dispatches on the
//! version once and runs the same code for each (see `runtime.rs`).

/// The package prefix of every interface in the contract (any version).
pub const PACKAGE: &str = "smsdesk:plugin";
/// The contract versions this host runs, oldest first.
pub const WIT_VERSIONS: [&str; 2] = [v1::WIT_VERSION, v2::WIT_VERSION];
/// The newest contract version (what the SDK and `plugin new` target).
pub const WIT_VERSION: &str = v2::WIT_VERSION;

/// What every version module shares: re-exports under the same names, the
/// export indices of a loaded component, and conversions to and from domain
/// types (the records are the same in every version so far).
macro_rules! conversions {
    () => {
        pub use self::exports::smsdesk::plugin::{classifier, crm, manifest, responder};
        pub use self::smsdesk::plugin::{config, kv, logging, types};
        use crate::domain;

        /// Where a component's exports are, found once at load.
        pub struct Exports {
            /// `manifest` (every plugin).
            pub manifest: manifest::GuestIndices,
            /// The `classifier` role, if exported.
            pub classifier: Option<classifier::GuestIndices>,
            /// The `crm` role, if exported.
            pub crm: Option<crm::GuestIndices>,
            /// The `responder` role, if exported.
            pub responder: Option<responder::GuestIndices>,
        }

        impl Exports {
            /// The indices, or `None` when the component lacks `manifest` of this version.
            pub fn find(pre: &wasmtime::component::InstancePre<crate::plugins::host::CallState>) -> Option<Exports> {
                Some(Exports {
                    manifest: manifest::GuestIndices::new(pre).ok()?,
                    classifier: classifier::GuestIndices::new(pre).ok(),
                    crm: crm::GuestIndices::new(pre).ok(),
                    responder: responder::GuestIndices::new(pre).ok(),
                })
            }
        }

        impl From<&domain::InboundMessage> for types::InboundMessage {
            fn from(m: &domain::InboundMessage) -> Self {
                types::InboundMessage {
                    id: m.id.clone(),
                    tenant: m.tenant.clone(),
                    from: m.from.clone(),
                    to: m.to.clone(),
                    body: m.body.clone(),
                    received_at: m.received_at.clone(),
                    media_urls: m.media_urls.clone(),
                }
            }
        }

        impl From<domain::Author> for types::Author {
            fn from(a: domain::Author) -> Self {
                match a {
                    domain::Author::Customer => types::Author::Customer,
                    domain::Author::Bot => types::Author::Bot,
                    domain::Author::Agent => types::Author::Agent,
                    domain::Author::System => types::Author::System,
                }
            }
        }

        impl From<&domain::CustomerProfile> for types::CustomerProfile {
            fn from(p: &domain::CustomerProfile) -> Self {
                types::CustomerProfile {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    tier: p.tier.clone(),
                    attributes: p.attributes.clone(),
                }
            }
        }

        impl From<types::CustomerProfile> for domain::CustomerProfile {
            fn from(p: types::CustomerProfile) -> Self {
                domain::CustomerProfile { id: p.id, name: p.name, tier: p.tier, attributes: p.attributes }
            }
        }

        /// The message as the plugin sees it: the sender's number masked
        /// (`+*******4567`) unless it was granted `raw-phone-numbers`.
        pub fn inbound(m: &domain::InboundMessage, raw_phone_numbers: bool) -> types::InboundMessage {
            let mut msg = types::InboundMessage::from(m);
            if !raw_phone_numbers {
                msg.from = domain::mask_phone(&msg.from);
            }
            msg
        }

        /// The context as plugins see it, with history bounded to the newest turns.
        pub fn context(c: &domain::ConversationContext, max_turns: usize) -> types::ConversationContext {
            let skip = c.history.len().saturating_sub(max_turns);
            types::ConversationContext {
                conversation_id: c.conversation_id.clone(),
                history: c
                    .history
                    .iter()
                    .skip(skip)
                    .map(|t| types::Turn { author: t.author.into(), body: t.body.clone(), at: t.at.clone() })
                    .collect(),
                profile: c.profile.as_ref().map(Into::into),
            }
        }

        impl From<&domain::Intent> for types::Intent {
            fn from(i: &domain::Intent) -> Self {
                types::Intent { label: i.label.clone(), confidence: i.confidence }
            }
        }

        impl From<types::Intent> for domain::Intent {
            fn from(i: types::Intent) -> Self {
                domain::Intent { label: i.label, confidence: i.confidence }
            }
        }

        impl From<types::Priority> for domain::Priority {
            fn from(p: types::Priority) -> Self {
                match p {
                    types::Priority::Low => domain::Priority::Low,
                    types::Priority::Normal => domain::Priority::Normal,
                    types::Priority::High => domain::Priority::High,
                    types::Priority::Urgent => domain::Priority::Urgent,
                }
            }
        }

        impl From<types::Decision> for domain::Decision {
            fn from(d: types::Decision) -> Self {
                domain::Decision {
                    reply: d.reply,
                    handoff: d.handoff.map(|h| domain::Handoff {
                        reason: h.reason,
                        priority: h.priority.into(),
                        team: h.team,
                    }),
                    add_tags: d.add_tags,
                    resolve: d.resolve,
                }
            }
        }

        impl From<types::Role> for domain::Role {
            fn from(r: types::Role) -> Self {
                match r {
                    types::Role::Classifier => domain::Role::Classifier,
                    types::Role::Crm => domain::Role::Crm,
                    types::Role::Responder => domain::Role::Responder,
                }
            }
        }

        impl From<types::Capability> for domain::Capability {
            fn from(c: types::Capability) -> Self {
                match c {
                    types::Capability::KeyValue => domain::Capability::KeyValue,
                    types::Capability::OutboundHttp(host) => domain::Capability::OutboundHttp(host),
                    types::Capability::RawPhoneNumbers => domain::Capability::RawPhoneNumbers,
                }
            }
        }

        impl From<types::PluginInfo> for domain::Manifest {
            fn from(i: types::PluginInfo) -> Self {
                domain::Manifest {
                    name: i.name,
                    version: i.version,
                    description: i.description,
                    roles: i.roles.into_iter().map(Into::into).collect(),
                    capabilities: i.capabilities.into_iter().map(Into::into).collect(),
                }
            }
        }

        /// A guest-reported error as (kind name, message).
        pub fn guest_error(e: types::PluginError) -> (&'static str, String) {
            (error_kind_name(e.kind), e.message)
        }

        /// A guest-reported error kind as a stable name.
        pub fn error_kind_name(kind: types::ErrorKind) -> &'static str {
            match kind {
                types::ErrorKind::InvalidInput => "invalid-input",
                types::ErrorKind::BadConfig => "bad-config",
                types::ErrorKind::Unavailable => "unavailable",
                types::ErrorKind::Denied => "denied",
                types::ErrorKind::Internal => "internal",
            }
        }
    };
}

/// Contract `smsdesk:plugin@0.1.0` (frozen).
pub mod v1 {
    wasmtime::component::bindgen!({
        world: "full-plugin",
        path: "../wit/v0.1.0",
        imports: { default: async },
        exports: { default: async },
    });
    /// The version of the contract these bindings are for.
    pub const WIT_VERSION: &str = "0.1.0";
    conversions!();
}

/// Contract `smsdesk:plugin@0.2.0`: 0.1.0 plus the brokered `http` import.
pub mod v2 {
    wasmtime::component::bindgen!({
        world: "full-plugin",
        path: "../wit/v0.2.0",
        imports: { default: async },
        exports: { default: async },
    });
    pub use self::smsdesk::plugin::http;
    /// The version of the contract these bindings are for.
    pub const WIT_VERSION: &str = "0.2.0";
    conversions!();
}
