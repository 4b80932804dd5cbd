//! `wecom-sim crypto …`: the commands users reach for when URL verification fails.
//!
//! Success prints the result on stdout exactly (no added newline) and exits 0. Failure
//! prints `error <code> <name>: <message>` and `hint: <hint>` on stderr and exits 1.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use wecom_sdk_crypto::{CallbackCrypto, CryptoError, ReceiveIdPolicy, WithCode};

/// The crypto subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CryptoCommand {
    /// Check a URL-verification GET and print the plain echo to answer with.
    VerifyUrl {
        #[command(flatten)]
        app: AppArgs,
        #[command(flatten)]
        signed: SignedArgs,
        /// The `echostr` query value; a still URL-encoded value (`%2B`, `%2F`, `%3D`) is
        /// decoded once.
        #[arg(long)]
        echostr: String,
    },
    /// Check and decrypt a callback POST body and print the plaintext message.
    Decrypt {
        #[command(flatten)]
        app: AppArgs,
        #[command(flatten)]
        signed: SignedArgs,
        /// File holding the POST body; `-` reads standard input.
        #[arg(long)]
        body_file: PathBuf,
        /// The body is a JSON envelope (`{"encrypt": …}`: JSON callbacks, AI bots).
        #[arg(long)]
        json: bool,
    },
    /// Encrypt a passive reply and print the signed reply envelope.
    Encrypt {
        #[command(flatten)]
        app: AppArgs,
        /// The timestamp to sign (usually the request's).
        #[arg(long)]
        timestamp: String,
        /// The nonce to sign (usually the request's).
        #[arg(long)]
        nonce: String,
        /// File holding the plaintext reply; `-` reads standard input.
        #[arg(long)]
        plaintext_file: PathBuf,
        /// A fixed 16-character random prefix, for reproducible output (tests only).
        #[arg(long)]
        random: Option<String>,
        /// Print the JSON reply envelope instead of XML.
        #[arg(long)]
        json: bool,
    },
    /// Print the msg_signature of a timestamp, nonce and ciphertext (needs only the token).
    Sign {
        /// The app's callback Token.
        #[arg(long)]
        token: String,
        /// The timestamp.
        #[arg(long)]
        timestamp: String,
        /// The nonce.
        #[arg(long)]
        nonce: String,
        /// The ciphertext (`echostr` or `Encrypt`).
        #[arg(long)]
        encrypted: String,
    },
}

/// The app's callback configuration.
#[derive(Debug, Args)]
pub(crate) struct AppArgs {
    /// The app's callback Token.
    #[arg(long)]
    token: String,
    /// The 43-character EncodingAESKey.
    #[arg(long)]
    aes_key: String,
    /// CorpID (self-built apps), SuiteID (third-party suites) or "" (AI bots).
    #[arg(long, allow_hyphen_values = true)]
    receive_id: String,
    /// Accept any receive id inside the message.
    #[arg(long)]
    skip_receive_id_check: bool,
}

/// The signature query values of a callback.
#[derive(Debug, Args)]
pub(crate) struct SignedArgs {
    /// The `msg_signature` query value.
    #[arg(long)]
    msg_signature: String,
    /// The `timestamp` query value.
    #[arg(long)]
    timestamp: String,
    /// The `nonce` query value.
    #[arg(long)]
    nonce: String,
}

/// What can stop a command.
enum Failure {
    Crypto(CryptoError),
    Input(String),
}

impl From<CryptoError> for Failure {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e)
    }
}

/// Runs one crypto command and reports the outcome as an exit code.
pub(crate) fn run(cmd: CryptoCommand) -> ExitCode {
    match execute(cmd) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Crypto(e)) => {
            eprintln!("{}", WithCode(&e));
            eprintln!("hint: {}", e.hint());
            ExitCode::FAILURE
        }
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cmd: CryptoCommand) -> Result<String, Failure> {
    match cmd {
        CryptoCommand::VerifyUrl {
            app,
            signed,
            echostr,
        } => {
            let echostr = percent_decode_once(&echostr);
            Ok(app.crypto()?.verify_url(
                &signed.msg_signature,
                &signed.timestamp,
                &signed.nonce,
                &echostr,
            )?)
        }
        CryptoCommand::Decrypt {
            app,
            signed,
            body_file,
            json,
        } => {
            let body = read_input(&body_file)?;
            let crypto = app.crypto()?;
            let (sig, ts, nonce) = (&signed.msg_signature, &signed.timestamp, &signed.nonce);
            Ok(if json {
                crypto.decrypt_json_message(sig, ts, nonce, &body)?
            } else {
                crypto.decrypt_message(sig, ts, nonce, &body)?
            })
        }
        CryptoCommand::Encrypt {
            app,
            timestamp,
            nonce,
            plaintext_file,
            random,
            json,
        } => {
            let plaintext = read_input(&plaintext_file)?;
            let crypto = app.crypto()?;
            match (random, json) {
                (None, false) => Ok(crypto.encrypt_reply(&plaintext, &timestamp, &nonce)?),
                (None, true) => Ok(crypto.encrypt_json_reply(&plaintext, &timestamp, &nonce)?),
                (Some(random), false) => {
                    let random: [u8; 16] = random.as_bytes().try_into().map_err(|_| {
                        Failure::Input("--random must be exactly 16 bytes".to_owned())
                    })?;
                    Ok(crypto.encrypt_reply_with_random(&plaintext, &timestamp, &nonce, random)?)
                }
                (Some(_), true) => Err(Failure::Input(
                    "--random is not supported with --json".to_owned(),
                )),
            }
        }
        CryptoCommand::Sign {
            token,
            timestamp,
            nonce,
            encrypted,
        } => Ok(wecom_sdk_crypto::sign(
            &token, &timestamp, &nonce, &encrypted,
        )),
    }
}

impl AppArgs {
    fn crypto(&self) -> Result<CallbackCrypto, CryptoError> {
        let crypto =
            CallbackCrypto::new(self.token.as_str(), &self.aes_key, self.receive_id.as_str())?;
        Ok(if self.skip_receive_id_check {
            crypto.with_receive_id_policy(ReceiveIdPolicy::Skip)
        } else {
            crypto
        })
    }
}

fn read_input(path: &PathBuf) -> Result<String, Failure> {
    let mut text = String::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())))?;
    Ok(text)
}

/// Decodes `%XX` escapes once. Base64 never contains `%`, so a value holding one was
/// copied from a raw URL; anything else is returned unchanged.
fn percent_decode_once(value: &str) -> String {
    if !value.contains('%') {
        return value.to_owned();
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode_once;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode_once("a%2Bb%2Fc%3D%3D"), "a+b/c==");
        assert_eq!(percent_decode_once("plain+base64/=="), "plain+base64/==");
        assert_eq!(percent_decode_once("bad%2"), "bad%2");
        assert_eq!(percent_decode_once("%zz"), "%zz");
    }
}
