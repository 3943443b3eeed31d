//! The bulk-action job: applies a large bulk change (more leads than a
//! request changes at once) in batches, each its own transaction, so the
//! progress page can show how far it is. It acts in the name of the member
//! who asked, and re-checks before starting that they are still a member
//! with the right to make the change.

use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection};

use crate::config::Config;
use crate::db::lead_bulk::{self, Claimed};
use crate::db::{team, DbError, SystemAccess, Tenant};
use crate::domain::lead_bulk::{self as rules, BulkAction, BulkChange};
use crate::domain::roles;

/// One pass: claims one job and runs it to the end; returns how many
/// leads it went through.
pub fn run(
    conn: &mut PgConnection,
    access: &SystemAccess,
    _: &Config,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let Some(job) = lead_bulk::claim(conn, now).map_err(|e| e.to_string())? else {
        return Ok(0);
    };
    match work(conn, &job, now) {
        Ok(n) => Ok(n),
        Err(reason) => {
            let tenant = access.tenant(job.organization_id);
            lead_bulk::fail(conn, &tenant, job.id, &reason, now).map_err(|e| e.to_string())?;
            Ok(0)
        }
    }
}

/// Runs the claimed job batch by batch; the error is the reason shown on
/// its progress page.
fn work(conn: &mut PgConnection, job: &Claimed, now: DateTime<Utc>) -> Result<usize, String> {
    let change = match rules::parse(&job.action, &job.tag) {
        Ok(BulkAction::Change(change)) => change,
        _ => return Err("This bulk action is not known.".into()),
    };
    let tenant = acting_member(conn, job, &change)?;
    let mut handled = 0;
    loop {
        let n = conn
            .transaction(|conn| lead_bulk::run_batch(conn, &tenant, job.id, &change, now))
            .map_err(failure)?;
        if n == 0 {
            break;
        }
        handled += n;
        if crate::jobs::stopping() {
            // Shutting down: the job stays claimed and is taken over (at
            // its first unfinished batch) once the claim is stale.
            return Ok(handled);
        }
    }
    conn.transaction(|conn| lead_bulk::finish(conn, &tenant, job.id, &change, now))
        .map_err(|e| failure(DbError::from(e)))?;
    Ok(handled)
}

/// The member who asked, if they may still make `change`.
fn acting_member(
    conn: &mut PgConnection,
    job: &Claimed,
    change: &BulkChange,
) -> Result<Tenant, String> {
    let gone = || "The member who started this is no longer in the organization.".to_string();
    let user = job.requested_by.ok_or_else(gone)?;
    let tenant = Tenant::for_member(conn, job.organization_id, user).map_err(|_| gone())?;
    let member = team::my_membership(conn, &tenant).map_err(|_| gone())?;
    if !roles::allows(member.role, member.flags(), change.needs()) {
        return Err("The member who started this may no longer make this change.".into());
    }
    Ok(tenant)
}

/// What the progress page says when a batch fails.
fn failure(e: DbError) -> String {
    match e {
        DbError::Invalid(message) => message,
        DbError::NotFound => "The sequence or owner chosen no longer exists.".into(),
        other => {
            tracing::warn!(error = %other, "bulk job batch failed");
            "Something went wrong; the leads changed so far stay changed.".into()
        }
    }
}
