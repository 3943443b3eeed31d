//! Single-use account tokens: password reset, email verification, email
//! change. Only the SHA-256 of a token is stored; `redeem` marks it used in
//! the same statement that checks it, so a token works once even when two
//! requests race. A new token of a purpose replaces the user's older ones.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::db::schema::account_tokens;
use crate::ids::UserId;
use crate::tokens;

/// What a token is for, as stored in `account_tokens.purpose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    VerifyEmail,
    ChangeEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "password_reset",
            Purpose::VerifyEmail => "verify_email",
            Purpose::ChangeEmail => "change_email",
        }
    }

    /// How long a link of this purpose works.
    pub fn validity(self) -> Duration {
        match self {
            Purpose::PasswordReset => Duration::hours(1),
            Purpose::VerifyEmail => Duration::days(7),
            Purpose::ChangeEmail => Duration::hours(24),
        }
    }
}

/// A valid token: whose it is, and the address it was issued for.
#[derive(Debug, Clone)]
pub struct Redeemed {
    pub user: UserId,
    pub email: Option<String>,
}

/// Creates a token for `user` and returns it (the only time it exists in
/// clear). `email` is the address the link goes to (verification, change).
/// Unused tokens of the same purpose are dropped: only the newest link works.
pub fn issue(
    conn: &mut PgConnection,
    user: UserId,
    purpose: Purpose,
    email: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    drop_unused(conn, user, purpose)?;
    let token = tokens::random_token();
    diesel::insert_into(account_tokens::table)
        .values((
            account_tokens::token_hash.eq(tokens::hash(&token)),
            account_tokens::user_id.eq(user),
            account_tokens::purpose.eq(purpose.as_str()),
            account_tokens::new_email.eq(email),
            account_tokens::expires_at.eq(now + purpose.validity()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Forgets the user's unused tokens of `purpose` (e.g. after a reset).
pub fn drop_unused(conn: &mut PgConnection, user: UserId, purpose: Purpose) -> QueryResult<usize> {
    diesel::delete(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::used_at.is_null()),
    )
    .execute(conn)
}

/// Uses a token: `Some` exactly once for a live token of `purpose`, `None`
/// for an unknown, expired, used or other-purpose one.
pub fn redeem(
    conn: &mut PgConnection,
    token: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> QueryResult<Option<Redeemed>> {
    let row: Option<(UserId, Option<String>)> = diesel::update(
        account_tokens::table
            .filter(account_tokens::token_hash.eq(tokens::hash(token)))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::used_at.is_null())
            .filter(account_tokens::expires_at.gt(now)),
    )
    .set(account_tokens::used_at.eq(Some(now)))
    .returning((account_tokens::user_id, account_tokens::new_email))
    .get_result(conn)
    .optional()?;
    Ok(row.map(|(user, email)| Redeemed { user, email }))
}

/// Like `redeem` without using the token (to decide whether to show a form).
pub fn check(
    conn: &mut PgConnection,
    token: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> QueryResult<Option<Redeemed>> {
    let row: Option<(UserId, Option<String>)> = account_tokens::table
        .filter(account_tokens::token_hash.eq(tokens::hash(token)))
        .filter(account_tokens::purpose.eq(purpose.as_str()))
        .filter(account_tokens::used_at.is_null())
        .filter(account_tokens::expires_at.gt(now))
        .select((account_tokens::user_id, account_tokens::new_email))
        .first(conn)
        .optional()?;
    Ok(row.map(|(user, email)| Redeemed { user, email }))
}

/// The address a pending email change waits on, and until when.
pub fn pending_email_change(
    conn: &mut PgConnection,
    user: UserId,
    now: DateTime<Utc>,
) -> QueryResult<Option<(String, DateTime<Utc>)>> {
    let row: Option<(Option<String>, DateTime<Utc>)> = account_tokens::table
        .filter(account_tokens::user_id.eq(user))
        .filter(account_tokens::purpose.eq(Purpose::ChangeEmail.as_str()))
        .filter(account_tokens::used_at.is_null())
        .filter(account_tokens::expires_at.gt(now))
        .order(account_tokens::created_at.desc())
        .select((account_tokens::new_email, account_tokens::expires_at))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(email, until)| email.map(|e| (e, until))))
}

/// Deletes tokens that expired more than a day ago (housekeeping).
pub fn purge_expired(conn: &mut PgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(
        account_tokens::table.filter(account_tokens::expires_at.lt(now - Duration::days(1))),
    )
    .execute(conn)
}
