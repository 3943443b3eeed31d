//! Users and sign-up. Sign-up writes the user, their first organization, its
//! subscription and the OWNER membership in one transaction (the caller's).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;

use crate::db::models::User;
use crate::db::orgs;
use crate::db::schema::users;
use crate::ids::{OrgId, UserId};

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    id: UserId,
    email: &'a str,
    name: &'a str,
    password_hash: &'a str,
}

/// Outcome of a sign-up attempt.
pub enum SignUp {
    Created { user: UserId, org: OrgId },
    EmailTaken,
}

/// Creates a user and their first organization ("<name>'s Organization").
/// Must run inside a transaction: any failure leaves nothing behind.
pub fn sign_up(
    conn: &mut PgConnection,
    name: &str,
    email: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> QueryResult<SignUp> {
    let Some(user) = insert_user(conn, name, email, password_hash)? else {
        return Ok(SignUp::EmailTaken);
    };
    let org = orgs::create(conn, user, &orgs::default_name(name), now)?;
    Ok(SignUp::Created { user, org })
}

/// Inserts a user; `Ok(None)` when the email is already registered.
pub fn insert_user(
    conn: &mut PgConnection,
    name: &str,
    email: &str,
    password_hash: &str,
) -> QueryResult<Option<UserId>> {
    let id = UserId::new();
    let inserted = diesel::insert_into(users::table)
        .values(NewUser {
            id,
            email,
            name,
            password_hash,
        })
        .on_conflict(users::email)
        .do_nothing()
        .execute(conn)?;
    Ok((inserted == 1).then_some(id))
}

pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut PgConnection, id: UserId) -> QueryResult<User> {
    users::table.find(id).select(User::as_select()).first(conn)
}

/// Changes the user's display name.
pub fn set_name(
    conn: &mut PgConnection,
    user: UserId,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(users::table.find(user))
        .set((users::name.eq(name), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Stores a new password hash.
pub fn set_password_hash(
    conn: &mut PgConnection,
    user: UserId,
    hash: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(users::table.find(user))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Marks `email` as confirmed — only while it is still the user's address,
/// so a link sent to an old address cannot confirm a new one. True when the
/// address is (now) confirmed.
pub fn mark_verified(
    conn: &mut PgConnection,
    user: UserId,
    email: &str,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let changed = diesel::update(users::table.find(user).filter(users::email.eq(email)))
        .set((
            users::email_verified_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("coalesce(email_verified_at, ")
            .bind::<diesel::sql_types::Timestamptz, _>(now)
            .sql(")")),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// True when some account uses `email`.
pub fn email_taken(conn: &mut PgConnection, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::email.eq(email)),
    ))
    .get_result(conn)
}

/// Switches the user to a confirmed new address. `Ok(None)` when another
/// account took the address in the meantime; otherwise the old address.
pub fn change_email(
    conn: &mut PgConnection,
    user: UserId,
    new_email: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<String>> {
    let old: String = users::table
        .find(user)
        .select(users::email)
        .for_update()
        .first(conn)?;
    if email_taken(conn, new_email)? {
        return Ok(None);
    }
    // A savepoint, so a lost race on the unique address leaves the caller's
    // transaction usable.
    let updated = conn.transaction(|conn| {
        diesel::update(users::table.find(user))
            .set((
                users::email.eq(new_email),
                users::email_verified_at.eq(Some(now)),
                users::updated_at.eq(now),
            ))
            .execute(conn)
    });
    match updated {
        Ok(_) => Ok(Some(old)),
        Err(diesel::result::Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
