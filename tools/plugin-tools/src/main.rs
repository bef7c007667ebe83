//! Tools for plugin authors whose language has no component toolchain of its
//! own (C, today), built from the same crates as `wit-bindgen` and
//! `wasm-tools` without a ten-minute `cargo install` of their command lines:
//!
//! - `c-bindings --wit DIR --world WORLD --out DIR`: C bindings for a world of
//!   the smsdesk WIT contract (`WORLD.h`, `WORLD.c` and the component-type
//!   object to link in).
//! - `componentize --module CORE.wasm --out PLUGIN.wasm`: turn a core module
//!   linked with those bindings into a component (no WASI adapter: a plugin
//!   that needs WASI imports is refused with the list of them).

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use wit_bindgen_core::wit_parser::Resolve;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let (mut wit, mut world, mut out, mut module) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--wit" => wit = Some(PathBuf::from(value)),
            "--world" => world = Some(value),
            "--out" => out = Some(PathBuf::from(value)),
            "--module" => module = Some(PathBuf::from(value)),
            other => bail!("unknown option {other}"),
        }
    }
    match command.as_str() {
        "c-bindings" => {}
        "componentize" => {
            let (Some(module), Some(out)) = (module, out) else {
                bail!("usage: smsdesk-plugin-tools componentize --module CORE.wasm --out PLUGIN.wasm");
            };
            let bytes = std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
            let component = wit_component::ComponentEncoder::default()
                .module(&bytes)
                .with_context(|| format!("{} is not a core module with smsdesk bindings linked in", module.display()))?
                .validate(true)
                .encode()
                .context("building the component (a module importing WASI needs an adapter; plugins should not)")?;
            std::fs::write(&out, &component).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {} ({} bytes)", out.display(), component.len());
            return Ok(());
        }
        _ => bail!(
            "usage: smsdesk-plugin-tools c-bindings --wit DIR --world WORLD --out DIR\n       smsdesk-plugin-tools componentize --module CORE.wasm --out PLUGIN.wasm"
        ),
    }
    let (Some(wit), Some(world), Some(out)) = (wit, world, out) else {
        bail!("usage: smsdesk-plugin-tools c-bindings --wit DIR --world WORLD --out DIR");
    };
    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_path(&wit).with_context(|| format!("reading WIT from {}", wit.display()))?;
    let world_id = resolve.select_world(&[package], Some(&world)).with_context(|| format!("world `{world}`"))?;
    let mut files = wit_bindgen_core::Files::default();
    let opts = wit_bindgen_c::Opts::default();
    let mut generator = opts.build();
    generator.generate(&mut resolve, world_id, &mut files)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for (name, contents) in files.iter() {
        let path = out.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
