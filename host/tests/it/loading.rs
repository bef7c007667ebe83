//! Loading components: roles from exports, bad files, the precompiled cache,
//! and the first-party plugins doing their jobs.

use crate::support::*;
use smsdesk::domain::{Intent, Priority, Role};
use smsdesk::plugins::{CacheOutcome, FailureKind, Limits, Runtime, RuntimeConfig};
use smsdesk_artifacts::{first_party, test_guests};

#[tokio::test]
async fn first_party_plugins_declare_their_roles() {
    let rt = runtime();
    let cases = [
        (&first_party::KEYWORD_INTENTS, "keyword-intents", vec![Role::Classifier]),
        (&first_party::FAQ_RESPONDER, "faq-responder", vec![Role::Responder]),
        (&first_party::DEMO_CRM, "demo-crm", vec![Role::Crm]),
    ];
    for (guest, name, roles) in cases {
        let plugin = load(&rt, guest).await;
        assert_eq!(plugin.name(), name);
        assert_eq!(plugin.roles(), roles.as_slice());
        assert_eq!(plugin.manifest().roles, roles);
        assert_eq!(plugin.manifest().version, "0.1.0");
        assert_eq!(plugin.info().wit_version.as_deref(), Some("0.2.0"));
        assert!(plugin.info().imports.iter().any(|i| i == "smsdesk:plugin/config@0.2.0"));
    }
}

#[tokio::test]
async fn a_component_without_roles_is_rejected() {
    let rt = runtime();
    let bytes = test_guests::NO_ROLES.read().unwrap();
    let err = rt.load("no-roles", bytes, Limits::default()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::InvalidComponent);
    assert!(err.detail.contains("exports no role"), "{err}");
}

#[tokio::test]
async fn files_that_are_not_components_are_rejected_clearly() {
    let rt = runtime();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text", b"hello, world".to_vec(), "not a WebAssembly file"),
        ("core", b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module, not a component"),
        ("empty", Vec::new(), "not a WebAssembly file"),
        (
            "truncated",
            {
                let full = first_party::KEYWORD_INTENTS.read().unwrap();
                full[..full.len() / 2].to_vec()
            },
            "not a valid component",
        ),
    ];
    for (label, bytes, expected) in cases {
        let err = rt.load(label, bytes, Limits::default()).await.unwrap_err();
        assert_eq!(err.kind, FailureKind::InvalidComponent, "{label}: {err}");
        assert_eq!(err.plugin, label);
        assert!(err.detail.contains(expected), "{label}: {err}");
    }
    good_call_works(&rt).await;
}

#[tokio::test]
async fn compiled_once_then_loaded_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let new_runtime =
        || Runtime::new(RuntimeConfig { cache_dir: Some(dir.path().into()), ..Default::default() }).unwrap();
    let bytes = first_party::KEYWORD_INTENTS.read().unwrap();

    let first = new_runtime().load("k", bytes.clone(), Limits::default()).await.unwrap();
    assert_eq!(first.info().cache, CacheOutcome::CompiledAndStored);
    // A new runtime (a restart) finds the artifact.
    let second = new_runtime().load("k", bytes.clone(), Limits::default()).await.unwrap();
    assert_eq!(second.info().cache, CacheOutcome::Cached);
    let intents = second.classify(&call("acme"), &message("where is my order"), &context()).await.unwrap();
    assert_eq!(intents[0].label, "order-status");
}

#[tokio::test]
async fn corrupt_or_foreign_cache_files_are_recompiled_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig { cache_dir: Some(dir.path().into()), ..Default::default() }).unwrap();
    let bytes = first_party::KEYWORD_INTENTS.read().unwrap();
    let plugin = rt.load("k", bytes.clone(), Limits::default()).await.unwrap();
    let path = rt.cache_path_for(&plugin.info().sha256).unwrap();
    let good = std::fs::read(&path).unwrap();

    // Flipped bits in the artifact.
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    // Cut short.
    let truncated = good[..good.len() / 3].to_vec();
    // Another program's file.
    let foreign = b"#!/bin/sh\necho not an artifact\n".to_vec();
    // Right header and checksum, but not something this engine produced.
    let mut forged = b"SMSDSK01".to_vec();
    let payload = b"\x7fELF pretend this is machine code".to_vec();
    forged.extend_from_slice(&sha256(&payload));
    forged.extend_from_slice(&payload);

    for (what, file, reason) in [
        ("flipped", flipped, "checksum mismatch"),
        ("truncated", truncated, "checksum mismatch"),
        ("foreign", foreign, "bad header"),
        ("forged", forged, "rejected by wasmtime"),
    ] {
        std::fs::write(&path, &file).unwrap();
        let plugin = rt.load("k", bytes.clone(), Limits::default()).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        match &plugin.info().cache {
            CacheOutcome::Recompiled(why) => assert!(why.contains(reason), "{what}: {why}"),
            other => panic!("{what}: expected a recompile, got {other:?}"),
        }
        let intents = plugin.classify(&call("acme"), &message("refund please"), &context()).await.unwrap();
        assert_eq!(intents[0].label, "returns", "{what}");
        // The bad file was replaced by a good one.
        assert_eq!(std::fs::read(&path).unwrap(), good, "{what}");
    }
}

fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

#[tokio::test]
async fn classifier_crm_and_responder_work_together() {
    let rt = runtime();
    let classifier = load(&rt, &first_party::KEYWORD_INTENTS).await;
    let crm = load(&rt, &first_party::DEMO_CRM).await;
    let responder = load(&rt, &first_party::FAQ_RESPONDER).await;
    let crm_config = r#"
        [profiles."+15551234567"]
        id = "cus_1001"
        name = "Ana"
        tier = "gold"
        attributes = { last-order-id = "1042", order-status = "in transit", eta = "Tuesday" }
    "#;

    let profile = crm.lookup(&call_with("acme", crm_config), "+15551234567").await.unwrap().unwrap();
    assert_eq!(profile.name.as_deref(), Some("Ana"));
    assert!(crm.lookup(&call_with("acme", crm_config), "+15550000000").await.unwrap().is_none());
    // Another tenant without the configuration knows nobody.
    assert!(crm.lookup(&call("globex"), "+15551234567").await.unwrap().is_none());

    let msg = message("Where is my order? Tracking hasn't moved");
    let intents = classifier.classify(&call("acme"), &msg, &context()).await.unwrap();
    let mut cx = context();
    cx.profile = Some(profile);
    let decision = responder.respond(&call("acme"), &msg, &cx, &intents).await.unwrap();
    assert_eq!(
        decision.reply.as_deref(),
        Some("Hi Ana! Your order #1042 is in transit, expected Tuesday. Track it here: https://example.com/track")
    );

    let angry = message("This is unacceptable, I want to talk to a person NOW");
    let intents = classifier.classify(&call("acme"), &angry, &context()).await.unwrap();
    let decision = responder.respond(&call("acme"), &angry, &context(), &intents).await.unwrap();
    assert_eq!(decision.handoff.unwrap().priority, Priority::Urgent);

    let unsure = [Intent { label: "order-status".into(), confidence: 0.2 }];
    let decision = responder.respond(&call("acme"), &msg, &context(), &unsure).await.unwrap();
    assert!(decision.handoff.unwrap().reason.starts_with("Low confidence"));
}

#[tokio::test]
async fn plugin_configuration_errors_come_back_as_guest_errors() {
    let rt = runtime();
    let classifier = load(&rt, &first_party::KEYWORD_INTENTS).await;
    let err = classifier.classify(&call_with("acme", "intents = 5"), &message("hi"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Guest);
    assert!(err.detail.starts_with("bad-config:"), "{err}");
    let custom = call_with("acme", "[intents]\nwarranty = [\"still covered\"]");
    let intents = classifier.classify(&custom, &message("Is it still covered?"), &context()).await.unwrap();
    assert_eq!(intents[0].label, "warranty");
}
