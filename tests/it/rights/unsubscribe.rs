//! Unsubscribe links: the delivered mail's RFC 8058 headers and footer
//! link, the confirmation page, one-click POST without cookies, reuse,
//! unknown tokens, another organization's link, and what suppression then
//! refuses (sends, sequence steps) without counting them.

use lead_dashboard::db::SystemAccess;
use lead_dashboard::jobs::mail::deliver_due;

use super::*;
use crate::workspace_mail::{config_for, SmtpSink};

/// The value of header `name` in a raw mail, unfolded.
fn header(mail: &str, name: &str) -> Option<String> {
    let unfolded = mail.replace("\r\n ", " ").replace("\r\n\t", " ");
    let prefix = format!("\r\n{name}: ");
    let start = unfolded.find(&prefix)? + prefix.len();
    let rest = &unfolded[start..];
    Some(rest[..rest.find("\r\n").unwrap_or(rest.len())].to_string())
}

/// The mail's body with quoted-printable soft breaks undone.
fn body(mail: &str) -> String {
    let start = mail.find("\r\n\r\n").map_or(0, |i| i + 4);
    mail[start..].replace("=\r\n", "").replace("=3D", "=")
}

#[actix_web::test]
async fn a_delivered_message_carries_the_headers_and_link_and_one_click_unsubscribes() {
    let app = TestApp::new().await;
    let (c, lead) = enrolled_and_mailed(&app).await;
    let sink = SmtpSink::start(false);
    let config = config_for(&app, &sink.url());
    let access = SystemAccess::grant_at_startup();
    let later = app.now() + chrono::Duration::minutes(1);
    assert_eq!(
        deliver_due(&mut app.conn(), &access, &config, later).unwrap(),
        1
    );
    let mails = sink.received();
    let mail = &mails[0];
    let list = header(mail, "List-Unsubscribe").expect("List-Unsubscribe header");
    assert_eq!(
        header(mail, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click"),
        "{mail}"
    );
    let link = list
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix('>'))
        .unwrap_or_else(|| panic!("List-Unsubscribe is not <url>: {list}"));
    let base = app.state.config.public_url.trim_end_matches('/');
    let path = link.strip_prefix(base).expect("the link is on PUBLIC_URL");
    assert!(path.starts_with("/u/") && path.len() == 46, "{path}");
    assert!(
        body(mail).contains(link),
        "the footer carries the link: {mail}"
    );
    assert_eq!(path, unsubscribe_path(&app));

    // The confirmation page changes nothing.
    let stranger = app.client();
    let page = stranger.get(path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Stop all email from"), "{}", page.body);
    assert!(page.body.contains("a•••@x.example"), "{}", page.body);
    assert!(!page.body.contains("anna@x.example"));
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 0);

    // One click, as a mail provider sends it: no cookies, no CSRF token.
    let one_click = app.client();
    let r = one_click
        .post_raw(path, &[("List-Unsubscribe", "One-Click")])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("You are unsubscribed"));
    assert!(one_click.cookie("ld_session").is_none());
    assert_eq!(
        app.count("SELECT count(*) FROM suppressions WHERE reason = 'unsubscribed' AND email_hint = 'a•••@x.example'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM suppressions x WHERE x::text LIKE '%anna@%'"),
        0,
        "only a hash and a masked hint are stored"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'stopped' AND paused_reason = 'Stopped: the lead unsubscribed.' AND next_run_at IS NULL"),
        1
    );
    assert!(c
        .get(&format!("/leads/{lead}"))
        .await
        .body
        .contains("Stopped: the lead unsubscribed."));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'lead.unsubscribed'"),
        1
    );

    // Reused: nothing changes.
    let again = app.client().post_raw(path, &[]).await;
    assert_eq!(again.status, 200);
    assert!(
        again.body.contains("Already unsubscribed"),
        "{}",
        again.body
    );
    assert!(app
        .client()
        .get(path)
        .await
        .body
        .contains("Already unsubscribed"));
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'lead.unsubscribed'"),
        1
    );

    // Later sends are refused and count nothing.
    let sent = app.count("SELECT count(*) FROM usage_records WHERE kind = 'message_sent'");
    let r = send_intro(&c, lead).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("suppression list"), "{}", r.body);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'message_sent'"),
        sent
    );
    // The sequence sends nothing more, however much later.
    assert_eq!(run_worker(&app, app.now() + chrono::Duration::days(30)), 0);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
}

#[actix_web::test]
async fn unknown_and_malformed_links_change_nothing() {
    let app = TestApp::new().await;
    enrolled_and_mailed(&app).await;
    let made_up = format!("/u/{}", "A".repeat(43));
    for path in [made_up.as_str(), "/u/short", "/u/%3Cscript%3E"] {
        let r = app.client().get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.body.contains("not valid"), "{path}: {}", r.body);
        assert!(!r.body.contains("<script>"));
        let r = app.client().post_raw(path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
    }
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'active'"),
        1
    );
}

#[actix_web::test]
async fn a_link_unsubscribes_in_its_own_organization_only() {
    let app = TestApp::new().await;
    let (_, _) = enrolled_and_mailed(&app).await;
    let path = unsubscribe_path(&app);
    // Another organization has a lead with the same address.
    let bea = app.signup("Bea", "bea@example.com").await;
    app.verify_email("bea@example.com");
    let theirs = insert_lead(&app, "bea-s-organization", "Anna", "anna@x.example").to_string();
    let r = app.client().post_raw(&path, &[]).await;
    assert!(r.body.contains("You are unsubscribed"));
    let a = org_id(&app, OWNER_SLUG);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM suppressions WHERE organization_id = '{a}'"
        )),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM suppressions"), 1);
    let r = send_intro(&bea, theirs).await;
    assert_eq!(r.status, 303, "the other organization still mails its lead");
    assert!(!bea
        .get("/settings/suppression")
        .await
        .body
        .contains("a•••@x.example"));
}

#[actix_web::test]
async fn the_worker_stops_an_enrolment_whose_address_was_suppressed_and_counts_nothing() {
    let app = TestApp::new().await;
    enrolled_and_mailed(&app).await;
    // Suppressed behind the enrolment's back (the hash as the app computes it).
    exec(
        &app,
        "INSERT INTO suppressions (organization_id, id, email_hash, reason, created_at) \
         SELECT id, gen_random_uuid(), sha256(suppression_salt || convert_to('anna@x.example', 'UTF8')), 'added', now() \
         FROM organizations",
    );
    let sent = app.count("SELECT count(*) FROM usage_records WHERE kind = 'message_sent'");
    assert_eq!(run_worker(&app, app.now() + chrono::Duration::days(4)), 1);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'message_sent'"),
        sent
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sequence_enrollments WHERE status = 'stopped' AND paused_reason LIKE '%suppression list%'"),
        1
    );
}
