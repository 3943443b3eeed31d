//! The key that encrypts session cookies: derived from `SESSION_KEY`, or
//! generated once and kept in the var directory, so that every instance and
//! every restart read the same cookies.

use std::path::Path;

use actix_web::cookie::Key;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha512};

use crate::config::Config;

/// Where a generated key is kept when `SESSION_KEY` is unset.
const KEY_FILE: &str = "session.key";

/// The cookie key: derived from `SESSION_KEY`, or generated once and kept in
/// `LD_VAR_DIR/session.key` so a restart does not sign everybody out.
pub fn key(config: &Config) -> Key {
    match &config.session_key {
        Some(secret) => derive(secret.expose_secret()),
        // Beside the local cluster's default home (`LD_VAR_DIR`, else `./var`).
        None => stored_key(config.var_dir.as_deref().unwrap_or(Path::new("var"))),
    }
}

fn derive(secret: &str) -> Key {
    if secret.len() < 32 {
        tracing::warn!("SESSION_KEY is shorter than 32 characters; use a long random value");
    }
    Key::from(&Sha512::digest(secret.as_bytes()))
}

fn stored_key(dir: &Path) -> Key {
    let path = dir.join(KEY_FILE);
    let secret = crate::tokens::kept_secret(&path).unwrap_or_else(|(secret, e)| {
        tracing::warn!(path = %path.display(), error = %e,
            "cannot keep the session key; sessions end when the server restarts (set SESSION_KEY)");
        secret
    });
    derive(&secret)
}
