//! Billing mail: the invoice once it is issued, and dunning — what owners
//! hear when a payment fails, when their bank asks them to confirm one
//! (3-D Secure, with "Confirm payment" on the hosted invoice page) and when
//! the grace period ends. Each failed attempt gives owners (and admins) an in-app notice and
//! owners a mail, both pointing at "Pay now" on the billing page (Stripe: the
//! hosted invoice page; local provider: a new charge of the card on file).
//! Written in the transaction of the change that causes them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::invoices::{self, Invoice};
use crate::db::outbox::{self, MailKind, OutgoingMail};
use crate::db::{billing, notices, Tenant};
use crate::domain::subscription::grace_end;

/// A payment failed (`attempt` names the attempt, so each one is told once).
pub fn payment_failed(
    conn: &mut PgConnection,
    tenant: &Tenant,
    attempt: &str,
    site: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let until = grace_end(now).format("%-d %B %Y");
    let notice = format!(
        "A payment failed. Pay now on the billing page to keep your plan; \
         after {until} the Free plan's limits apply."
    );
    let key = format!("payment_failed:{attempt}");
    notices::notify_admins(conn, tenant, "billing", &notice, &key, now)?;
    let body = format!(
        "Hello,\n\nwe could not collect the payment for your Lead Dashboard subscription.\n\n\
         Pay now: {site}/billing\n\n\
         Your plan stays in force until {until}. After that the Free plan's limits apply; \
         nothing is deleted.\n"
    );
    mail_owners(
        conn,
        tenant,
        "Payment failed: pay now to keep your plan",
        &body,
        None,
        now,
    )
}

/// The bank asks the cardholder to confirm a payment (3-D Secure on a
/// renewal): a notice, and a mail with "Confirm payment" on the invoice's
/// hosted page. `attempt` keys the notice, and the mail goes only with a new
/// notice, so each attempt is told once however often its event comes.
pub fn payment_action_required(
    conn: &mut PgConnection,
    tenant: &Tenant,
    attempt: &str,
    confirm_url: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let notice = "Your bank asks you to confirm a payment. Use Confirm payment on the \
                  billing page so it can be collected.";
    let key = format!("payment_action_required:{attempt}");
    if notices::notify_admins(conn, tenant, "billing", notice, &key, now)? == 0 {
        return Ok(());
    }
    let body = format!(
        "Hello,\n\nyour bank asks you to confirm the payment for your Lead Dashboard \
         subscription before it can be collected.\n\n\
         Confirm payment: {confirm_url}\n\n\
         Until you confirm it, the payment stays open.\n"
    );
    mail_owners(
        conn,
        tenant,
        "Your bank asks you to confirm a payment",
        &body,
        None,
        now,
    )
}

/// The grace period ended unpaid: the Free plan applies from now.
pub fn grace_expired(
    conn: &mut PgConnection,
    tenant: &Tenant,
    site: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let notice = "Your paid plan has ended because its payment failed. The Free plan's \
                  limits apply; nothing was deleted.";
    let key = format!("grace_expired:{}", now.timestamp());
    notices::notify_admins(conn, tenant, "billing", notice, &key, now)?;
    let body = format!(
        "Hello,\n\nthe payment for your Lead Dashboard subscription did not come through \
         during the grace period, so your organization is now on the Free plan.\n\n\
         All your data is kept: what is over the Free limits stays readable. \
         Choose a plan again at any time: {site}/plans\n"
    );
    mail_owners(
        conn,
        tenant,
        "Your plan has ended: you are on Free",
        &body,
        None,
        now,
    )
}

/// An invoice was issued (finalised by Stripe, or paid on the local
/// provider): the numbered invoice, as plain text with an HTML alternative.
pub fn invoice_issued(
    conn: &mut PgConnection,
    tenant: &Tenant,
    invoice: &Invoice,
    site: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let lines = invoices::lines(conn, tenant, invoice.id)?;
    let mail = crate::mail::invoice::issued(invoice, &lines, site);
    let (subject, body) = (&mail.text.subject, &mail.text.body);
    mail_owners(conn, tenant, subject, body, Some(&mail.html), now)
}

/// Queues `subject` / `body` to every owner of the organization.
fn mail_owners(
    conn: &mut PgConnection,
    tenant: &Tenant,
    subject: &str,
    body: &str,
    html: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    for to in billing::owner_emails(conn, tenant)? {
        let mail = OutgoingMail {
            kind: MailKind::Billing,
            org: Some(tenant.org_id()),
            message: None,
            to: &to,
            subject,
            body,
            html,
        };
        outbox::enqueue(conn, &mail, now)?;
    }
    Ok(())
}
