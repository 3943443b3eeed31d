//! The organization's suppression list (docs/product.md, "Data rights") and the unsubscribe links
//! of message mail. An address is stored only as SHA-256(salt ‖ address)
//! with the organization's own salt, so a person who asked to be forgotten
//! stays unmailable without their address being kept; `email_hint` is a
//! masked form for the list page (none for forgotten people). An unsubscribe
//! link carries a random token; only its hash is stored, with the
//! organization, lead and address hash it was sent for.

use chrono::{DateTime, Utc};
use diesel::dsl::{Eq, Filter};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::error::{DbError, DbResult};
use crate::db::leads::Lead;
use crate::db::schema::{leads, organizations, suppressions, unsubscribe_tokens, users};
use crate::db::{audit, stops, wall, Tenant};
use crate::ids::{LeadId, OrgId, SuppressionId, UserId};
use crate::tokens;

/// Why an address is on the list, as stored in `suppressions.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The recipient used an unsubscribe link.
    Unsubscribed,
    /// A member erased the lead ("Forget this lead").
    Forgotten,
    /// A member put the address on the list by hand.
    Added,
    /// Mail to the address bounced for good.
    Bounced,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unsubscribed => "unsubscribed",
            Reason::Forgotten => "forgotten",
            Reason::Added => "added",
            Reason::Bounced => "bounced",
        }
    }

    /// What the list page and the import report say.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Unsubscribed => "unsubscribed",
            Reason::Forgotten => "asked to be forgotten",
            Reason::Added => "added by a member",
            Reason::Bounced => "bounced",
        }
    }

    fn parse(s: &str) -> Reason {
        match s {
            "unsubscribed" => Reason::Unsubscribed,
            "bounced" => Reason::Bounced,
            "forgotten" => Reason::Forgotten,
            // The column's CHECK allows nothing else.
            _ => Reason::Added,
        }
    }
}

/// Why a send was refused: the lead's address is suppressed.
pub const SUPPRESSED: &str =
    "This address is on the organization's suppression list (the person unsubscribed or was forgotten); nothing was sent.";

/// The salted hash an address is stored as (trimmed, lower-cased first).
pub fn hash_email(salt: &[u8], email: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(email.trim().to_lowercase().as_bytes());
    h.finalize().to_vec()
}

/// A masked address for the list page: first character and domain
/// (`j•••@example.com`), enough to recognise it, not to mail it.
pub fn hint(email: &str) -> String {
    let email = email.trim().to_lowercase();
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_string(),
    }
}

fn salt(conn: &mut PgConnection, tenant: &Tenant) -> QueryResult<Vec<u8>> {
    organizations::table
        .find(tenant.org_id())
        .select(organizations::suppression_salt)
        .first(conn)
}

/// The hash `email` has in the tenant's list.
pub fn hash_for(conn: &mut PgConnection, tenant: &Tenant, email: &str) -> QueryResult<Vec<u8>> {
    Ok(hash_email(&salt(conn, tenant)?, email))
}

fn reason_of_hash(
    conn: &mut PgConnection,
    tenant: &Tenant,
    hash: &[u8],
) -> QueryResult<Option<Reason>> {
    let reason: Option<String> = scoped_suppressions(tenant)
        .filter(suppressions::email_hash.eq(hash))
        .select(suppressions::reason)
        .first(conn)
        .optional()?;
    Ok(reason.as_deref().map(Reason::parse))
}

/// Why `email` is suppressed in the tenant's organization, if it is.
pub fn check(conn: &mut PgConnection, tenant: &Tenant, email: &str) -> QueryResult<Option<Reason>> {
    let hash = hash_for(conn, tenant, email)?;
    reason_of_hash(conn, tenant, &hash)
}

/// `Conflict` with a clear message when `email` may not be mailed: called
/// before anything of a send is written, so a refused send counts nothing.
pub fn refuse_suppressed(conn: &mut PgConnection, tenant: &Tenant, email: &str) -> DbResult<()> {
    match check(conn, tenant, email)? {
        Some(_) => Err(DbError::conflict(SUPPRESSED)),
        None => Ok(()),
    }
}

/// Marks import rows whose address is suppressed, so a person who
/// unsubscribed or was forgotten does not come back silently: the report
/// says "suppressed: unsubscribed" / "suppressed: asked to be forgotten".
pub fn mark_suppressed(
    conn: &mut PgConnection,
    tenant: &Tenant,
    rows: &mut [crate::domain::lead_import::Row],
) -> QueryResult<()> {
    let salt = salt(conn, tenant)?;
    let hashes: Vec<Option<Vec<u8>>> = rows
        .iter()
        .map(|r| r.outcome.as_ref().ok().map(|l| hash_email(&salt, &l.email)))
        .collect();
    let wanted: Vec<Vec<u8>> = hashes.iter().flatten().cloned().collect();
    let mut found = std::collections::HashMap::new();
    for chunk in wanted.chunks(5000) {
        let part: Vec<(Vec<u8>, String)> = scoped_suppressions(tenant)
            .filter(suppressions::email_hash.eq_any(chunk))
            .select((suppressions::email_hash, suppressions::reason))
            .load(conn)?;
        found.extend(part);
    }
    for (row, hash) in rows.iter_mut().zip(hashes) {
        if let Some(reason) = hash.and_then(|h| found.get(&h)) {
            row.outcome = Err(format!("suppressed: {}", Reason::parse(reason).label()));
        }
    }
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = unsubscribe_tokens)]
struct NewToken {
    organization_id: OrgId,
    token_hash: Vec<u8>,
    lead_id: Option<LeadId>,
    email_hash: Vec<u8>,
    created_at: DateTime<Utc>,
}

/// A fresh unsubscribe token for one mail to `lead` (its hash stored, the
/// token returned for the link).
pub fn issue_link(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: &Lead,
    now: DateTime<Utc>,
) -> QueryResult<String> {
    let token = tokens::random_token();
    diesel::insert_into(unsubscribe_tokens::table)
        .values(NewToken {
            organization_id: tenant.org_id(),
            token_hash: tokens::hash(&token),
            lead_id: Some(lead.id),
            email_hash: hash_for(conn, tenant, &lead.fields.email)?,
            created_at: now,
        })
        .execute(conn)?;
    Ok(token)
}

/// Unties the lead's unsubscribe links from it (it is being forgotten): they
/// keep working, on the address hash alone.
pub fn detach_links(conn: &mut PgConnection, tenant: &Tenant, lead: LeadId) -> QueryResult<usize> {
    diesel::update(scoped_unsubscribe_tokens(tenant).filter(unsubscribe_tokens::lead_id.eq(lead)))
        .set(unsubscribe_tokens::lead_id.eq(None::<LeadId>))
        .execute(conn)
}

/// One entry of the list page.
#[derive(Debug, Clone)]
pub struct SuppressionRow {
    pub id: SuppressionId,
    pub email_hint: Option<String>,
    pub reason: Reason,
    pub note: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

type RowTuple = (
    SuppressionId,
    Option<String>,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
);

fn into_row((id, email_hint, reason, note, created_by, created_at): RowTuple) -> SuppressionRow {
    SuppressionRow {
        id,
        email_hint,
        reason: Reason::parse(&reason),
        note,
        created_by,
        created_at,
    }
}

/// The newest `limit` entries of the tenant's list, and the total count.
pub fn list(
    conn: &mut PgConnection,
    tenant: &Tenant,
    limit: i64,
) -> QueryResult<(Vec<SuppressionRow>, i64)> {
    let rows: Vec<RowTuple> = scoped_suppressions(tenant)
        .left_join(users::table.on(users::id.nullable().eq(suppressions::created_by)))
        .order((suppressions::created_at.desc(), suppressions::id.desc()))
        .limit(limit)
        .select((
            suppressions::id,
            suppressions::email_hint,
            suppressions::reason,
            suppressions::note,
            users::name.nullable(),
            suppressions::created_at,
        ))
        .load(conn)?;
    let total = scoped_suppressions(tenant).count().get_result(conn)?;
    Ok((rows.into_iter().map(into_row).collect(), total))
}

#[derive(Insertable)]
#[diesel(table_name = suppressions)]
struct NewSuppression<'a> {
    organization_id: OrgId,
    id: SuppressionId,
    email_hash: &'a [u8],
    email_hint: Option<String>,
    reason: &'a str,
    note: &'a str,
    created_by: Option<UserId>,
    created_at: DateTime<Utc>,
}

/// Puts `hash` on the list; None when it was there already (then nothing
/// changes: the first reason stays).
fn insert(
    conn: &mut PgConnection,
    tenant: &Tenant,
    hash: &[u8],
    email_hint: Option<String>,
    reason: Reason,
    note: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<SuppressionId>> {
    diesel::insert_into(suppressions::table)
        .values(NewSuppression {
            organization_id: tenant.org_id(),
            id: SuppressionId::new(),
            email_hash: hash,
            email_hint,
            reason: reason.as_str(),
            note,
            created_by: tenant.user_id(),
            created_at: now,
        })
        .on_conflict_do_nothing()
        .returning(suppressions::id)
        .get_result(conn)
        .optional()
}

/// The tenant's lead with the address `email`, if any.
fn lead_with_email(
    conn: &mut PgConnection,
    tenant: &Tenant,
    email: &str,
) -> QueryResult<Option<LeadId>> {
    scoped_leads(tenant)
        .filter(leads::email.eq(email.trim().to_lowercase()))
        .select(leads::id)
        .first(conn)
        .optional()
}

/// A member puts `email` (validated, lower-cased) on the list with `note`:
/// the lead with that address, if any, stops its sequences. `Conflict` when
/// the address is already there. Audited with the masked address only.
pub fn add(
    conn: &mut PgConnection,
    tenant: &Tenant,
    email: &str,
    note: &str,
    now: DateTime<Utc>,
) -> DbResult<SuppressionId> {
    let hash = hash_for(conn, tenant, email)?;
    let masked = hint(email);
    let id = insert(
        conn,
        tenant,
        &hash,
        Some(masked.clone()),
        Reason::Added,
        note,
        now,
    )?
    .ok_or_else(|| DbError::conflict("This address is already on the suppression list."))?;
    if let Some(lead) = lead_with_email(conn, tenant, email)? {
        stops::stop_for_lead(conn, tenant, lead, stops::SUPPRESSED, now)?;
    }
    let after = serde_json::json!({ "address": masked, "note": note });
    audit::record(
        conn,
        tenant,
        "suppression.added",
        &id.to_string(),
        None,
        Some(after),
    )?;
    Ok(id)
}

/// Puts the lead's address on the list for `reason` and stops its
/// sequences (unsubscribe, forget). The hint is left out for a forgotten
/// person. True when the address was not on the list before.
pub fn suppress_lead(
    conn: &mut PgConnection,
    tenant: &Tenant,
    lead: &Lead,
    reason: Reason,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let hash = hash_for(conn, tenant, &lead.fields.email)?;
    let masked = (reason != Reason::Forgotten).then(|| hint(&lead.fields.email));
    let added = insert(conn, tenant, &hash, masked, reason, "", now)?.is_some();
    if reason == Reason::Forgotten && !added {
        // Already suppressed for another reason: keep no hint of the address.
        diesel::update(scoped_suppressions(tenant).filter(suppressions::email_hash.eq(&hash)))
            .set(suppressions::email_hint.eq(None::<String>))
            .execute(conn)?;
    }
    let stop = match reason {
        Reason::Unsubscribed => stops::UNSUBSCRIBED,
        Reason::Bounced => stops::BOUNCED,
        _ => stops::SUPPRESSED,
    };
    stops::stop_for_lead(conn, tenant, lead.id, stop, now)?;
    Ok(added)
}

/// Takes an entry off the list (a member, with `why`); NotFound for other
/// organizations' ids. Audited with the masked address and the reason;
/// returns the masked address.
pub fn remove(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: SuppressionId,
    why: &str,
) -> QueryResult<Option<String>> {
    let (hint, reason): (Option<String>, String) =
        diesel::delete(scoped_suppressions(tenant).filter(suppressions::id.eq(id)))
            .returning((suppressions::email_hint, suppressions::reason))
            .get_result(conn)?;
    let before = serde_json::json!({ "address": hint, "reason": reason });
    let after = serde_json::json!({ "why": why });
    audit::record(
        conn,
        tenant,
        "suppression.removed",
        &id.to_string(),
        Some(before),
        Some(after),
    )?;
    Ok(hint)
}

/// What an unsubscribe link leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// No such token (mistyped, made up): nothing to do.
    Unknown,
    /// A valid link whose address is not suppressed yet.
    Ready(LinkInfo),
    /// Unsubscribed by this request.
    Done(LinkInfo),
    /// The address was already on the list.
    Already(LinkInfo),
}

/// Who a link is about, for the confirmation page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub org_name: String,
    /// The masked address (None when the lead is gone).
    pub address: Option<String>,
}

#[derive(Queryable)]
struct TokenRow {
    organization_id: OrgId,
    lead_id: Option<LeadId>,
    email_hash: Vec<u8>,
}

/// Finds the link's row by its token's hash across organizations and enters
/// that organization for the rest of the caller's transaction: the token,
/// not a session, is what authorizes acting for it.
fn open_link(conn: &mut PgConnection, token: &str) -> QueryResult<Option<(Tenant, TokenRow)>> {
    let hash = tokens::hash(token);
    let row: Option<TokenRow> = wall::lifted(conn, |conn| {
        unsubscribe_tokens::table
            .filter(unsubscribe_tokens::token_hash.eq(hash))
            .select((
                unsubscribe_tokens::organization_id,
                unsubscribe_tokens::lead_id,
                unsubscribe_tokens::email_hash,
            ))
            .first(conn)
            .optional()
    })?;
    let Some(row) = row else {
        return Ok(None);
    };
    wall::enter_org(conn, row.organization_id)?;
    Ok(Some((
        Tenant::for_unsubscribe_link(row.organization_id),
        row,
    )))
}

fn link_info(conn: &mut PgConnection, tenant: &Tenant, row: &TokenRow) -> QueryResult<LinkInfo> {
    let org_name = organizations::table
        .find(tenant.org_id())
        .select(organizations::name)
        .first(conn)?;
    let address = match row.lead_id {
        Some(lead) => scoped_leads(tenant)
            .filter(leads::id.eq(lead))
            .select(leads::email)
            .first::<String>(conn)
            .optional()?
            .map(|e| hint(&e)),
        None => None,
    };
    Ok(LinkInfo { org_name, address })
}

/// What the link `token` offers, changing nothing (the confirmation page).
pub fn peek(conn: &mut PgConnection, token: &str) -> QueryResult<Link> {
    conn.transaction(|conn| {
        let Some((tenant, row)) = open_link(conn, token)? else {
            return Ok(Link::Unknown);
        };
        let info = link_info(conn, &tenant, &row)?;
        Ok(match reason_of_hash(conn, &tenant, &row.email_hash)? {
            Some(_) => Link::Already(info),
            None => Link::Ready(info),
        })
    })
}

/// Unsubscribes the address the link `token` was sent to: on the list,
/// the lead's sequences stopped, audited without the address. A second use
/// changes nothing (`Already`).
pub fn unsubscribe(conn: &mut PgConnection, token: &str, now: DateTime<Utc>) -> QueryResult<Link> {
    conn.transaction(|conn| {
        let Some((tenant, row)) = open_link(conn, token)? else {
            return Ok(Link::Unknown);
        };
        let info = link_info(conn, &tenant, &row)?;
        let added = insert(
            conn,
            &tenant,
            &row.email_hash,
            info.address.clone(),
            Reason::Unsubscribed,
            "",
            now,
        )?;
        let Some(id) = added else {
            return Ok(Link::Already(info));
        };
        if let Some(lead) = row.lead_id {
            stops::stop_for_lead(conn, &tenant, lead, stops::UNSUBSCRIBED, now)?;
        }
        let target = row.lead_id.map(|l| l.to_string()).unwrap_or_default();
        let after = serde_json::json!({ "suppression": id.to_string() });
        audit::record(
            conn,
            &tenant,
            "lead.unsubscribed",
            &target,
            None,
            Some(after),
        )?;
        Ok(Link::Done(info))
    })
}

/// Every `suppressions` query of a tenant starts here.
fn scoped_suppressions(
    tenant: &Tenant,
) -> Filter<suppressions::table, Eq<suppressions::organization_id, OrgId>> {
    suppressions::table.filter(suppressions::organization_id.eq(tenant.org_id()))
}

/// Every `unsubscribe_tokens` query of a tenant starts here.
fn scoped_unsubscribe_tokens(
    tenant: &Tenant,
) -> Filter<unsubscribe_tokens::table, Eq<unsubscribe_tokens::organization_id, OrgId>> {
    unsubscribe_tokens::table.filter(unsubscribe_tokens::organization_id.eq(tenant.org_id()))
}

/// The tenant's leads (reads by address or id).
fn scoped_leads(tenant: &Tenant) -> Filter<leads::table, Eq<leads::organization_id, OrgId>> {
    leads::table.filter(leads::organization_id.eq(tenant.org_id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_ignore_case_and_spaces_and_depend_on_the_salt() {
        let a = hash_email(b"salt-a", " Jane@Example.com ");
        assert_eq!(a, hash_email(b"salt-a", "jane@example.com"));
        assert_ne!(a, hash_email(b"salt-b", "jane@example.com"));
        assert_ne!(a, hash_email(b"salt-a", "john@example.com"));
    }

    #[test]
    fn hints_keep_only_the_first_letter_and_the_domain() {
        assert_eq!(hint("Jane.Doe@Example.com"), "j•••@example.com");
        assert_eq!(hint("nonsense"), "•••");
    }
}
