//! Users and sign-up. Sign-up writes the user, their first organization, its
//! subscription and the OWNER membership in one transaction (the caller's).

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::models::User;
use crate::db::orgs;
use crate::db::schema::users;
use crate::ids::{OrgId, UserId};

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    id: Uuid,
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
) -> QueryResult<SignUp> {
    let Some(user) = insert_user(conn, name, email, password_hash)? else {
        return Ok(SignUp::EmailTaken);
    };
    let org = orgs::create(conn, user, &orgs::default_name(name))?;
    Ok(SignUp::Created { user, org })
}

/// Inserts a user; `Ok(None)` when the email is already registered.
pub fn insert_user(
    conn: &mut PgConnection,
    name: &str,
    email: &str,
    password_hash: &str,
) -> QueryResult<Option<UserId>> {
    let id = Uuid::now_v7();
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
    Ok((inserted == 1).then_some(UserId(id)))
}

pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut PgConnection, id: UserId) -> QueryResult<User> {
    users::table
        .find(id.uuid())
        .select(User::as_select())
        .first(conn)
}
