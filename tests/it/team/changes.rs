//! Every change writes exactly one audit event (right actor, before and
//! after), through the HTMX path (fragment) and the plain path (303); bad
//! input is refused with a clear message and changes nothing.

use super::support::*;
use crate::common::{Client, TestApp};

/// Runs one change as plain form (303) or HTMX (fragment), and checks it
/// wrote exactly one audit event with this actor, action and payloads.
#[allow(clippy::too_many_arguments)]
async fn audited(
    app: &TestApp,
    c: &Client,
    htmx: bool,
    path: &str,
    form: &[(&str, &str)],
    actor: &str,
    action: &str,
    before: &str,
    after: &str,
) {
    let count = events(app);
    let r = if htmx {
        c.post_htmx(path, form).await
    } else {
        c.post(path, form).await
    };
    if htmx {
        assert_eq!(r.status, 200, "HTMX {path}: {}", r.body);
        assert!(
            r.body.contains("id=\"team\""),
            "HTMX {path} answers the team fragment"
        );
        assert!(r.body.contains("hx-swap-oob") && !r.body.contains("<html"));
    } else {
        assert_eq!(
            (r.status, r.location()),
            (303, Some("/team")),
            "{path}: {}",
            r.body
        );
    }
    assert_eq!(events(app), count + 1, "{path}: exactly one audit event");
    let (got_action, got_actor, _, got_before, got_after) = last_event(app);
    assert_eq!(
        (got_action.as_str(), got_actor.as_str()),
        (action, actor),
        "{path}"
    );
    assert!(
        got_before.contains(before),
        "{path}: before {got_before:?} has {before:?}"
    );
    assert!(
        got_after.contains(after),
        "{path}: after {got_after:?} has {after:?}"
    );
}

#[actix_web::test]
async fn every_change_writes_one_audit_event_through_both_paths() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    let admin = join(app, ORG, "Adam", "adam@example.com", "ADMIN").await;
    let eva = add_plain_member(app, ORG, "eva@example.com", "MEMBER");
    let o = "olivia@example.com";
    for htmx in [false, true] {
        let (to, back) = if htmx {
            ("VIEWER", "MEMBER")
        } else {
            ("ADMIN", "MEMBER")
        };
        let path = format!("/team/members/{eva}/role");
        audited(
            app,
            &t.owner,
            htmx,
            &path,
            &[("role", to)],
            o,
            "member.role_changed",
            "\"role\": \"MEMBER\"",
            to,
        )
        .await;
        audited(
            app,
            &admin,
            htmx,
            &path,
            &[("role", back)],
            "adam@example.com",
            "member.role_changed",
            to,
            back,
        )
        .await;
        let path = format!("/team/members/{eva}/permissions");
        let (before, after) = if htmx {
            ("false", "true")
        } else {
            ("true", "false")
        };
        let form: &[(&str, &str)] = if htmx {
            &[
                ("can_manage_leads", "on"),
                ("can_send_messages", "on"),
                ("can_manage_templates", "on"),
            ]
        } else {
            &[("can_manage_leads", "on")]
        };
        audited(
            app,
            &t.owner,
            htmx,
            &path,
            form,
            o,
            "member.permissions_changed",
            before,
            after,
        )
        .await;
    }
    // Invitations: created, resent, revoked.
    for (htmx, email) in [(false, "i1@example.com"), (true, "i2@example.com")] {
        audited(
            app,
            &admin,
            htmx,
            "/team/invitations",
            &[("email", email), ("role", "VIEWER")],
            "adam@example.com",
            "invitation.created",
            "",
            "VIEWER",
        )
        .await;
        let id = text(
            app,
            &format!("SELECT id FROM invitations WHERE email = '{email}'"),
        );
        audited(
            app,
            &t.owner,
            htmx,
            &format!("/team/invitations/{id}/resend"),
            &[],
            o,
            "invitation.resent",
            "expires_at",
            "expires_at",
        )
        .await;
        audited(
            app,
            &t.owner,
            htmx,
            &format!("/team/invitations/{id}/revoke"),
            &[],
            o,
            "invitation.revoked",
            email,
            "",
        )
        .await;
    }
    // Ownership and removal.
    let path = format!("/team/members/{eva}/make-owner");
    audited(
        app,
        &t.owner,
        false,
        &path,
        &[],
        o,
        "ownership.granted",
        "MEMBER",
        "OWNER",
    )
    .await;
    audited(
        app,
        &t.owner,
        true,
        "/team/step-down",
        &[],
        o,
        "ownership.stepped_down",
        "OWNER",
        "ADMIN",
    )
    .await;
    let tom = add_plain_member(app, ORG, "tom@example.com", "VIEWER");
    audited(
        app,
        &admin,
        true,
        &format!("/team/members/{tom}/remove"),
        &[],
        "adam@example.com",
        "member.removed",
        "VIEWER",
        "",
    )
    .await;
    let ida = add_plain_member(app, ORG, "ida@example.com", "VIEWER");
    audited(
        app,
        &admin,
        false,
        &format!("/team/members/{ida}/remove"),
        &[],
        "adam@example.com",
        "member.removed",
        "VIEWER",
        "",
    )
    .await;
    // Leaving: HTMX gets a redirect to the organization picker.
    let count = events(app);
    let r = admin.post_htmx("/team/leave", &[]).await;
    assert_eq!((r.status, r.header("hx-redirect")), (200, Some("/orgs")));
    assert_eq!(events(app), count + 1);
    let (action, actor, target, before, _) = last_event(app);
    assert_eq!(
        (action.as_str(), actor.as_str()),
        ("member.left", "adam@example.com")
    );
    assert!(target.contains("adam@example.com") && before.contains("ADMIN"));
    // A change that changes nothing writes nothing.
    let zed = add_plain_member(app, ORG, "zed@example.com", "VIEWER");
    let count = events(app);
    let same = t
        .owner
        .post(&format!("/team/members/{zed}/role"), &[("role", "VIEWER")])
        .await;
    assert_eq!(same.status, 303);
    assert_eq!(events(app), count, "no event without a change");
}

#[actix_web::test]
async fn bad_input_is_refused_clearly() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    let eva = add_plain_member(app, ORG, "eva@example.com", "MEMBER");
    let before = fingerprint(app);
    let r = t
        .owner
        .post(&format!("/team/members/{eva}/role"), &[("role", "ROOT")])
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Choose a role"));
    let r = t
        .owner
        .post(
            "/team/invitations",
            &[("email", "not-an-email"), ("role", "OWNER")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("valid email") && r.body.contains("admins, members or viewers"));
    let r = t
        .owner
        .post_htmx(
            "/team/invitations",
            &[("email", "eva@example.com"), ("role", "MEMBER")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("already a member") && r.body.contains("id=\"team\""));
    assert_eq!(fingerprint(app), before);
    // Unconfirmed email: no invitations.
    exec(
        app,
        "UPDATE users SET email_verified_at = NULL WHERE email = 'olivia@example.com'",
    );
    let r = t
        .owner
        .post(
            "/team/invitations",
            &[("email", "x@example.com"), ("role", "MEMBER")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("confirm your email"));
    assert_eq!(fingerprint(app), before);
}
