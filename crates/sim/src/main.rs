//! `wecom-sim`: plays WeCom on your machine. Today: the `crypto` commands that debug
//! callback signatures and encryption without a WeCom account.
//!
//! ```text
//! wecom-sim crypto verify-url --token T --aes-key K --receive-id R --msg-signature S --timestamp TS --nonce N --echostr E
//! wecom-sim crypto decrypt    --token T --aes-key K --receive-id R --msg-signature S --timestamp TS --nonce N --body-file F
//! wecom-sim crypto encrypt    --token T --aes-key K --receive-id R --timestamp TS --nonce N --plaintext-file F
//! wecom-sim crypto sign       --token T --timestamp TS --nonce N --encrypted E
//! ```

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod crypto_cmd;

/// WeCom simulator: crypto debugging commands (fake API server, callback sender and load
/// generator to come).
#[derive(Debug, Parser)]
#[command(name = "wecom-sim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify, decrypt, encrypt and sign callbacks exactly as WeCom does.
    #[command(subcommand)]
    Crypto(crypto_cmd::CryptoCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crypto(cmd) => crypto_cmd::run(cmd),
    }
}
