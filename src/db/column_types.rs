//! How typed values are stored: ids as `uuid`, enums as their canonical text.
//!
//! Rows read ids and enums straight into their Rust types, and queries bind
//! them without ``/`.as_str()`. An enum column holding a value the
//! code does not know fails the query ("unknown role \"SUPERUSER\"") instead
//! of quietly mapping it to some default. The mappings live here, not on the
//! types, because `domain` knows nothing of SQL; diesel's `foreign_derive`
//! lets this module derive for types it does not define.

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::domain::api_keys::KeyScope;
use crate::domain::billing::Interval;
use crate::domain::leads::LeadStatus;
use crate::domain::plans::{LimitKind, Plan};
use crate::domain::roles::Role;
use crate::domain::settings::TimeZone;
use crate::domain::subscription::Status;
use crate::ids::*;

/// Stores each typed id as the `uuid` it wraps.
macro_rules! uuid_column {
    ($($id:ident),* $(,)?) => {$(
        const _: () = {
            #[derive(AsExpression, FromSqlRow)]
            #[diesel(foreign_derive, sql_type = SqlUuid)]
            #[allow(dead_code)]
            struct Stored($id);

            impl FromSql<SqlUuid, Pg> for $id {
                fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                    <Uuid as FromSql<SqlUuid, Pg>>::from_sql(value).map($id)
                }
            }

            impl ToSql<SqlUuid, Pg> for $id {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                    <Uuid as ToSql<SqlUuid, Pg>>::to_sql(&self.0, out)
                }
            }
        };
    )*};
}

/// Stores each enum as its canonical string (`as_str`), reading it back with
/// `FromStr`, which accepts exactly those strings.
macro_rules! text_column {
    ($($ty:ident),* $(,)?) => {$(
        const _: () = {
            #[derive(AsExpression, FromSqlRow)]
            #[diesel(foreign_derive, sql_type = Text)]
            #[allow(dead_code)]
            struct Stored($ty);

            impl FromSql<Text, Pg> for $ty {
                fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                    let text = <String as FromSql<Text, Pg>>::from_sql(value)?;
                    Ok(text.parse::<$ty>()?)
                }
            }

            impl ToSql<Text, Pg> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                    <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
                }
            }
        };
    )*};
}

crate::ids::with_every_id!(uuid_column);

text_column!(Role, Plan, Status, Interval, LeadStatus, LimitKind, TimeZone, KeyScope);
