//! `wecom-sim crypto …`: the commands users reach for when URL verification fails.
//!
//! Success prints the result on stdout exactly (no added newline) and exits 0. Failure
//! prints `error <code> <name>: <message>` and `hint: <hint>` on stderr and exits 1.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use wecom_sdk_crypto::{CallbackCrypto, CryptoError, ReceiveIdPolicy};

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
        /// Accept any receive id inside the echo.
        #[arg(long)]
        skip_receive_id_check: bool,
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
        /// Accept any receive id inside the message.
        #[arg(long)]
        skip_receive_id_check: bool,
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
    pub(crate) token: String,
    /// The 43-character EncodingAESKey.
    #[arg(long)]
    pub(crate) aes_key: String,
    /// CorpID (self-built apps), SuiteID (third-party suites) or "" (AI bots).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) receive_id: String,
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
    /// A crypto error, with extra lines that help tell its causes apart.
    Crypto(CryptoError, Vec<String>),
    Input(String),
}

impl From<CryptoError> for Failure {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e, Vec::new())
    }
}

/// What a signed request looked like, to explain a failure.
struct Evidence<'a> {
    token: &'a str,
    signed: &'a SignedArgs,
    /// The ciphertext that was signed (`echostr` or `Encrypt`), if it could be read.
    encrypted: Option<String>,
    /// The body, for a POST.
    body: Option<&'a str>,
    json: bool,
}

impl Evidence<'_> {
    /// Lines that tell a wrong Token from a wrongly copied value: the signature we
    /// computed (never the Token), and the usual copy-paste accidents.
    fn explain(&self, e: &CryptoError) -> Vec<String> {
        let mut lines = Vec::new();
        if e.code() == -40001
            && let Some(encrypted) = &self.encrypted
        {
            let computed = wecom_sdk_crypto::sign(
                self.token,
                &self.signed.timestamp,
                &self.signed.nonce,
                encrypted,
            );
            lines.push(format!(
                "computed msg_signature: {computed} (given: {}); if WeCom sent the computed one, the \
                 --msg-signature was copied wrongly; if not, the Token differs from the app's",
                self.signed.msg_signature
            ));
        }
        if self.signed.msg_signature.contains(' ')
            || self.encrypted.as_deref().is_some_and(|c| c.contains(' '))
        {
            lines.push(
                "note: a value holds a space where base64 has `+`: the URL was decoded twice \
                 (a `+` became a space); put the `+` back"
                    .to_owned(),
            );
        }
        if !self.json && self.body.is_some_and(|b| b.trim_start().starts_with('{')) {
            lines.push("note: the body is JSON; decrypt it with --json".to_owned());
        }
        lines
    }
}

/// The `<Encrypt>` (or JSON `encrypt`) of a POST body, if it has one.
fn ciphertext_of(body: &str, json: bool) -> Option<String> {
    if json || body.trim_start().starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        return v
            .get("encrypt")
            .or_else(|| v.get("Encrypt"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
    }
    let start = body.find("<Encrypt>")? + "<Encrypt>".len();
    let len = body[start..].find("</Encrypt>")?;
    let value = body[start..start + len].trim();
    Some(
        value
            .strip_prefix("<![CDATA[")
            .and_then(|v| v.strip_suffix("]]>"))
            .unwrap_or(value)
            .to_owned(),
    )
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
        Err(Failure::Crypto(e, lines)) => {
            eprintln!("{}", e.with_code());
            for line in lines {
                eprintln!("{line}");
            }
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
            skip_receive_id_check,
        } => {
            let echostr = percent_decode_once(&echostr);
            let evidence = Evidence {
                token: &app.token,
                signed: &signed,
                encrypted: Some(echostr.clone()),
                body: None,
                json: false,
            };
            app.crypto(skip_receive_id_check)?
                .verify_url(
                    &signed.msg_signature,
                    &signed.timestamp,
                    &signed.nonce,
                    &echostr,
                )
                .map_err(|e| {
                    let lines = evidence.explain(&e);
                    Failure::Crypto(e, lines)
                })
        }
        CryptoCommand::Decrypt {
            app,
            signed,
            body_file,
            json,
            skip_receive_id_check,
        } => {
            let body = read_input(&body_file)?;
            let crypto = app.crypto(skip_receive_id_check)?;
            let (sig, ts, nonce) = (&signed.msg_signature, &signed.timestamp, &signed.nonce);
            let result = if json {
                crypto.decrypt_json_message(sig, ts, nonce, &body)
            } else {
                crypto.decrypt_message(sig, ts, nonce, &body)
            };
            result.map_err(|e| {
                let evidence = Evidence {
                    token: &app.token,
                    signed: &signed,
                    encrypted: ciphertext_of(&body, json),
                    body: Some(&body),
                    json,
                };
                let lines = evidence.explain(&e);
                Failure::Crypto(e, lines)
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
            let crypto = app.crypto(false)?;
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
    fn crypto(&self, skip_receive_id_check: bool) -> Result<CallbackCrypto, CryptoError> {
        let crypto =
            CallbackCrypto::new(self.token.as_str(), &self.aes_key, self.receive_id.as_str())?;
        Ok(if skip_receive_id_check {
            crypto.receive_id_policy(ReceiveIdPolicy::Skip)
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
