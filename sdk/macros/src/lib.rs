//! The `export!` macro of `smsdesk-sdk`. Plugin authors use it as
//! `smsdesk_sdk::export!(MyPlugin: classifier, responder)`; see that crate.
//!
//! The macro picks the WIT world that exports exactly the listed roles, asks
//! `wit-bindgen` to generate the export glue for it inside the plugin crate
//! (imports and types are shared from the SDK), and wires each role's
//! generated trait to the SDK trait the plugin type implements. Generating the
//! world in the plugin crate matters: a component exports exactly the roles
//! of its world, and the host learns a plugin's roles from its exports.
//!
//! Everything generated is for `wasm32` only: on the build machine a plugin
//! crate compiles to plain Rust, so its logic can be unit-tested and
//! benchmarked natively, and a native `cdylib` never carries WIT export names.

use proc_macro::{Delimiter, Spacing, TokenStream, TokenTree};

/// The WIT package the SDK is built against, as a path on the build machine.
const WIT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit/v0.2.0");

/// The roles in their canonical order (the order of the WIT world names).
const ROLES: [&str; 3] = ["classifier", "crm", "responder"];

/// Export a plugin type as a component: `export!(MyPlugin: classifier, responder)`.
///
/// `MyPlugin` implements `smsdesk_sdk::Plugin` and the trait of each listed
/// role (`Classifier`, `Crm`, `Responder`). Use the macro once per crate.
#[proc_macro]
pub fn export(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(code) => code.parse().expect("the export macro generates valid Rust"),
        Err(message) => format!("::core::compile_error!({message:?});").parse().expect("compile_error! is valid Rust"),
    }
}

fn expand(input: TokenStream) -> Result<String, String> {
    const USAGE: &str =
        "usage: smsdesk_sdk::export!(MyPlugin: classifier, crm, responder) — list the roles MyPlugin implements";
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    // The plugin type ends at the first `:` that is not part of a `::` path separator.
    let mut split = None;
    let mut i = 0;
    while i < tokens.len() {
        if let TokenTree::Punct(p) = &tokens[i]
            && p.as_char() == ':'
        {
            if p.spacing() == Spacing::Joint {
                i += 2; // `::`
                continue;
            }
            split = Some(i);
            break;
        }
        i += 1;
    }
    let split = split.ok_or(USAGE)?;
    let ty: String = tokens[..split].iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ");
    if ty.trim().is_empty() {
        return Err(USAGE.into());
    }
    let mut roles = Vec::new();
    for token in &tokens[split + 1..] {
        match token {
            TokenTree::Ident(ident) => {
                let name = ident.to_string();
                if !ROLES.contains(&name.as_str()) {
                    return Err(format!("unknown role `{name}`: the roles are classifier, crm and responder"));
                }
                if roles.contains(&name) {
                    return Err(format!("role `{name}` is listed twice"));
                }
                roles.push(name);
            }
            TokenTree::Punct(p) if p.as_char() == ',' => {}
            TokenTree::Group(g) if g.delimiter() == Delimiter::None => {
                return Err(USAGE.into());
            }
            _ => return Err(USAGE.into()),
        }
    }
    if roles.is_empty() {
        return Err("a plugin must export at least one role: classifier, crm or responder".into());
    }
    let ordered: Vec<&str> = ROLES.iter().copied().filter(|r| roles.iter().any(|x| x == r)).collect();
    let world = if ordered.len() == 3 { "full-plugin".to_string() } else { format!("{}-plugin", ordered.join("-")) };
    Ok(render(&ty, &world, &ordered))
}

fn render(ty: &str, world: &str, roles: &[&str]) -> String {
    let role_values: Vec<String> = roles
        .iter()
        .map(|r| match *r {
            "classifier" => "::smsdesk_sdk::Role::Classifier".to_string(),
            "crm" => "::smsdesk_sdk::Role::Crm".to_string(),
            _ => "::smsdesk_sdk::Role::Responder".to_string(),
        })
        .collect();
    // Off wasm32 nothing is exported, but the plugin type must still implement
    // every listed role (checked here) and counts as used.
    let mut checks = format!("let _ = ::smsdesk_sdk::__private::manifest::<{ty}>;");
    for role in roles {
        let f = match *role {
            "classifier" => "classify",
            "crm" => "lookup",
            _ => "respond",
        };
        checks.push_str(&format!("let _ = ::smsdesk_sdk::__private::{f}::<{ty}>;"));
    }
    let mut impls = String::new();
    for role in roles {
        let body = match *role {
            "classifier" => format!(
                "#[cfg(target_arch = \"wasm32\")]
                impl __smsdesk_plugin_bindings::exports::smsdesk::plugin::classifier::Guest for __SmsdeskPluginExport {{
                    fn classify(message: ::smsdesk_sdk::InboundMessage, context: ::smsdesk_sdk::ConversationContext)
                        -> ::core::result::Result<::smsdesk_sdk::__private::Vec<::smsdesk_sdk::Intent>, ::smsdesk_sdk::PluginError> {{
                        ::smsdesk_sdk::__private::classify::<{ty}>(message, context)
                    }}
                }}"
            ),
            "crm" => format!(
                "#[cfg(target_arch = \"wasm32\")]
                impl __smsdesk_plugin_bindings::exports::smsdesk::plugin::crm::Guest for __SmsdeskPluginExport {{
                    fn lookup(phone: ::smsdesk_sdk::__private::String, tenant: ::smsdesk_sdk::__private::String)
                        -> ::core::result::Result<::core::option::Option<::smsdesk_sdk::CustomerProfile>, ::smsdesk_sdk::PluginError> {{
                        ::smsdesk_sdk::__private::lookup::<{ty}>(phone, tenant)
                    }}
                }}"
            ),
            _ => format!(
                "#[cfg(target_arch = \"wasm32\")]
                impl __smsdesk_plugin_bindings::exports::smsdesk::plugin::responder::Guest for __SmsdeskPluginExport {{
                    fn respond(message: ::smsdesk_sdk::InboundMessage, context: ::smsdesk_sdk::ConversationContext,
                        intents: ::smsdesk_sdk::__private::Vec<::smsdesk_sdk::Intent>)
                        -> ::core::result::Result<::smsdesk_sdk::Decision, ::smsdesk_sdk::PluginError> {{
                        ::smsdesk_sdk::__private::respond::<{ty}>(message, context, intents)
                    }}
                }}"
            ),
        };
        impls.push_str(&body);
    }
    format!(
        r#"
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        #[allow(warnings, clippy::all, missing_docs)]
        mod __smsdesk_plugin_bindings {{
            ::smsdesk_sdk::__private::wit_bindgen::generate!({{
                world: "{world}",
                path: {WIT_DIR:?},
                runtime_path: "::smsdesk_sdk::__private::wit_bindgen::rt",
                with: {{
                    "smsdesk:plugin/types@0.2.0": ::smsdesk_sdk::__private::bindings::smsdesk::plugin::types,
                    "smsdesk:plugin/logging@0.2.0": ::smsdesk_sdk::__private::bindings::smsdesk::plugin::logging,
                    "smsdesk:plugin/config@0.2.0": ::smsdesk_sdk::__private::bindings::smsdesk::plugin::config,
                    "smsdesk:plugin/kv@0.2.0": ::smsdesk_sdk::__private::bindings::smsdesk::plugin::kv,
                    "smsdesk:plugin/http@0.2.0": ::smsdesk_sdk::__private::bindings::smsdesk::plugin::http,
                }},
            }});
        }}

        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        struct __SmsdeskPluginExport;

        #[cfg(target_arch = "wasm32")]
        impl __smsdesk_plugin_bindings::exports::smsdesk::plugin::manifest::Guest for __SmsdeskPluginExport {{
            fn get() -> ::smsdesk_sdk::PluginInfo {{
                ::smsdesk_sdk::__private::manifest::<{ty}>(&[{roles}])
            }}
        }}

        {impls}

        #[cfg(target_arch = "wasm32")]
        __smsdesk_plugin_bindings::export!(__SmsdeskPluginExport with_types_in __smsdesk_plugin_bindings);

        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {{ {checks} }};
        "#,
        roles = role_values.join(", "),
    )
}
