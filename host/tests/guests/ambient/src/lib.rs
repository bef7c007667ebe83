//! Test guest: tries to use authority it was never given. The message text
//! picks the attempt: `file`, `env`, `socket PORT` or `kv`. If the attempt
//! succeeds the guest reports a `leaked:*` intent; if it fails it returns a
//! `denied` plugin error with what it observed.
use smsdesk_sdk::*;

struct Ambient;

impl Plugin for Ambient {
    const NAME: &'static str = "ambient";
    const VERSION: &'static str = "0.1.0";
}

fn denied(what: &str, why: impl std::fmt::Display) -> PluginError {
    PluginError::new(ErrorKind::Denied, format!("{what}: {why}"))
}

impl Classifier for Ambient {
    fn classify(message: &InboundMessage, _: &ConversationContext) -> Result<Vec<Intent>, PluginError> {
        let text = message.body.trim();
        if text == "file" {
            for path in ["/etc/passwd", "/", "Cargo.toml", "."] {
                if let Ok(found) = std::fs::read_dir(path).map(|d| d.count()) {
                    return Ok(vec![Intent::new(format!("leaked:dir:{path}:{found}"), 1.0)]);
                }
                if std::fs::read(path).is_ok() {
                    return Ok(vec![Intent::new(format!("leaked:file:{path}"), 1.0)]);
                }
            }
            return Err(denied("file", std::fs::read("/etc/passwd").unwrap_err()));
        }
        if text == "env" {
            let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            if !vars.is_empty() {
                return Ok(vec![Intent::new(format!("leaked:env:{}", vars.join(",")), 1.0)]);
            }
            return Err(denied(
                "env",
                format!("HOME is {:?}, {} variables visible", std::env::var("HOME").ok(), vars.len()),
            ));
        }
        if let Some(port) = text.strip_prefix("socket ") {
            let port: u16 = port.parse().map_err(|_| PluginError::invalid_input("socket PORT"))?;
            return match connect(port) {
                Ok(()) => Ok(vec![Intent::new("leaked:socket", 1.0)]),
                Err(e) => Err(denied("socket", e)),
            };
        }
        if text == "kv" {
            return match kv::set("k", b"v") {
                Ok(()) => Ok(vec![Intent::new("leaked:kv", 1.0)]),
                Err(e) => Err(denied("kv", format!("{e:?}"))),
            };
        }
        Err(PluginError::invalid_input("say file, env, socket PORT or kv"))
    }
}

#[cfg(target_arch = "wasm32")]
fn connect(port: u16) -> Result<(), String> {
    use wasi::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    let network = wasi::sockets::instance_network::instance_network();
    let socket = wasi::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
        .map_err(|e| format!("create: {e:?}"))?;
    let address = IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address: (127, 0, 0, 1) });
    socket.start_connect(&network, address).map_err(|e| format!("connect: {e:?}"))?;
    socket.subscribe().block();
    socket.finish_connect().map(|_| ()).map_err(|e| format!("finish: {e:?}"))
}

#[cfg(not(target_arch = "wasm32"))]
fn connect(_port: u16) -> Result<(), String> {
    Err("only meaningful on wasm32".into())
}

export!(Ambient: classifier);
