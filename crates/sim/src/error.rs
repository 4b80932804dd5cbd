//! What can go wrong in the simulator itself (not in the bot it tests).

/// A simulator error: the sandbox could not do its job (bind a port, reach the bot, read
/// a script). What the bot did wrong is never an error here but a reported outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A socket or file operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What the simulator was doing.
        action: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A setting is wrong (a URL, an EncodingAESKey …).
    #[error("config: {0}")]
    Config(String),
    /// Crypto setup failed (a malformed EncodingAESKey).
    #[error("crypto: {0}")]
    Crypto(#[from] wecom_sdk_crypto::CryptoError),
    /// A script file could not be read: the file, and where in it.
    #[error("script {file}: {reason}")]
    Script {
        /// The file.
        file: String,
        /// What is wrong, with the step number (from 1) where there is one.
        reason: String,
    },
    /// URL verification failed: the bot did not echo the challenge.
    #[error("URL verification failed: {0}")]
    Verification(String),
}

impl SimError {
    pub(crate) fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            action: action.into(),
            source,
        }
    }
}
