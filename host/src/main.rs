//! The `smsdesk` command: a thin shell over [`smsdesk::cli`].

fn main() -> std::process::ExitCode {
    smsdesk::cli::main()
}
