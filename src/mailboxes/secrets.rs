//! Mailbox passwords at rest: sealed with XChaCha20-Poly1305 under a key
//! derived from `MAILBOX_KEY` (or one generated once into
//! `LD_VAR_DIR/mailbox.key`). A sealed value is a version byte, the 24-byte
//! random nonce and the ciphertext with its tag; the mailbox id and the
//! field name are authenticated with it, so a ciphertext copied onto another
//! row or field does not open.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::Config;

/// The file a generated key is kept in, inside the var dir.
const KEY_FILE: &str = "mailbox.key";
/// The format byte in front of every sealed value.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// The key mailbox passwords are sealed with.
#[derive(Clone)]
pub struct MailboxKey(chacha20poly1305::Key);

/// A sealed value that does not open: another key, another row, or damage.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the stored mailbox password cannot be decrypted (was MAILBOX_KEY changed?)")]
pub struct CannotOpen;

impl MailboxKey {
    /// The configured key: `MAILBOX_KEY`, else the kept one in the var dir.
    pub fn from_config(config: &Config) -> MailboxKey {
        match &config.mailbox_key {
            Some(secret) => MailboxKey::derive(secret.expose_secret()),
            None => {
                let dir = config.var_dir.as_deref().unwrap_or(Path::new("var"));
                let path = dir.join(KEY_FILE);
                let secret = crate::tokens::kept_secret(&path).unwrap_or_else(|(secret, e)| {
                    tracing::warn!(path = %path.display(), error = %e,
                        "cannot keep the mailbox key; saved mailbox passwords will not open \
                         after a restart (set MAILBOX_KEY)");
                    secret
                });
                MailboxKey::derive(&secret)
            }
        }
    }

    /// The key for a secret setting (domain-separated from other uses of it).
    pub fn derive(secret: &str) -> MailboxKey {
        let digest = Sha256::new()
            .chain_update(b"lead-dashboard mailbox passwords v1\0")
            .chain_update(secret.as_bytes())
            .finalize();
        MailboxKey(digest)
    }

    /// Seals `plain` for the field `context` (e.g. mailbox id + "smtp").
    pub fn seal(&self, plain: &str, context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new(&self.0);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message of this size");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value sealed for `context` by `seal`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<SecretString, CannotOpen> {
        let (&version, rest) = sealed.split_first().ok_or(CannotOpen)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(CannotOpen);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new(&self.0);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| CannotOpen)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_password_opens_only_with_its_key_and_context() {
        let key = MailboxKey::derive("a long and random mailbox key for the tests");
        let sealed = key.seal("hunter2-app-password", b"mailbox-1/smtp");
        assert!(!sealed.windows(b"hunter2".len()).any(|w| w == b"hunter2"));
        let opened = key.open(&sealed, b"mailbox-1/smtp").unwrap();
        assert_eq!(opened.expose_secret(), "hunter2-app-password");
        assert_eq!(
            key.open(&sealed, b"mailbox-2/smtp").unwrap_err(),
            CannotOpen
        );
        let other = MailboxKey::derive("another long and random mailbox key!!");
        assert_eq!(
            other.open(&sealed, b"mailbox-1/smtp").unwrap_err(),
            CannotOpen
        );
        let mut damaged = sealed.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert_eq!(
            key.open(&damaged, b"mailbox-1/smtp").unwrap_err(),
            CannotOpen
        );
        assert_eq!(key.open(&[], b"mailbox-1/smtp").unwrap_err(), CannotOpen);
    }

    #[test]
    fn two_seals_of_one_password_differ() {
        let key = MailboxKey::derive("a long and random mailbox key for the tests");
        assert_ne!(key.seal("same", b"c"), key.seal("same", b"c"));
    }
}
