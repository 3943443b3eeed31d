//! Account mail (plain text): verification, email change, password reset and
//! the notices that follow a change. Tokens appear only in the link, never
//! elsewhere.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use super::{link, queue_account, MailText};
use crate::db::account_tokens::{self, Purpose};
use crate::ids::UserId;

const SIGNATURE: &str = "— Lead Dashboard";

pub fn verify_email(public_url: &str, name: &str, token: &str) -> MailText {
    MailText {
        subject: "Confirm your email address".into(),
        body: format!(
            "Hello {name},\n\nplease confirm that this is your email address by opening this link:\n\n{}\n\nThe link works for 7 days. Until you confirm, you cannot invite others or send messages.\n\nIf you did not create an account, ignore this email.\n\n{SIGNATURE}\n",
            link(public_url, &format!("/account/verify/{token}")),
        ),
    }
}

pub fn confirm_new_email(public_url: &str, name: &str, token: &str) -> MailText {
    MailText {
        subject: "Confirm your new email address".into(),
        body: format!(
            "Hello {name},\n\nyou asked to use this address for your Lead Dashboard account. Confirm it by opening this link:\n\n{}\n\nThe link works for 24 hours. Until then, your account keeps its current address.\n\nIf you did not ask for this, ignore this email.\n\n{SIGNATURE}\n",
            link(public_url, &format!("/account/email/confirm/{token}")),
        ),
    }
}

pub fn password_reset(public_url: &str, name: &str, token: &str) -> MailText {
    MailText {
        subject: "Reset your password".into(),
        body: format!(
            "Hello {name},\n\nsomeone (hopefully you) asked to reset the password of your Lead Dashboard account. Choose a new password here:\n\n{}\n\nThe link works once, for one hour. If you did not ask for it, ignore this email: your password stays as it is.\n\n{SIGNATURE}\n",
            link(public_url, &format!("/password/reset/{token}")),
        ),
    }
}

pub fn password_changed(public_url: &str, name: &str) -> MailText {
    MailText {
        subject: "Your password was changed".into(),
        body: format!(
            "Hello {name},\n\nthe password of your Lead Dashboard account was just changed, and your other sessions were signed out.\n\nIf this was not you, reset your password now:\n\n{}\n\n{SIGNATURE}\n",
            link(public_url, "/password/forgot"),
        ),
    }
}

pub fn email_changed(public_url: &str, name: &str, new_email: &str) -> MailText {
    MailText {
        subject: "Your email address was changed".into(),
        body: format!(
            "Hello {name},\n\nyour Lead Dashboard account now uses the address {new_email}; this address no longer signs in.\n\nIf this was not you, contact support right away, and reset your password:\n\n{}\n\n{SIGNATURE}\n",
            link(public_url, "/password/forgot"),
        ),
    }
}

/// Issues a verification token for `email` and queues the link (at sign-up,
/// inside its transaction, and on "resend").
pub fn queue_verification(
    conn: &mut PgConnection,
    public_url: &str,
    user: UserId,
    name: &str,
    email: &str,
    now: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    let token = account_tokens::issue(conn, user, Purpose::VerifyEmail, Some(email), now)?;
    queue_account(conn, email, verify_email(public_url, name, &token), now)
}
