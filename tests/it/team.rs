//! Team: role matrix of every route of the feature, tenant isolation, the
//! last-owner rule (also under concurrency), seats under concurrency, and one
//! audit event per change through both the HTMX and the plain-form path.

mod invitations;
mod settings_audit;
mod support;

use futures_util::future::{join as both, join_all};

use crate::common::{Client, Resp, TestApp};
use support::*;

/// Posts `form` to `path` as `c`; allowed: 303 and `success_sql` counts 1;
/// denied: 403 and nothing changed.
async fn check(
    app: &TestApp,
    c: &Client,
    who: &str,
    path: &str,
    form: &[(&str, &str)],
    allowed: bool,
    success_sql: &str,
) {
    let before = fingerprint(app);
    let r = c.post(path, form).await;
    if allowed {
        assert_eq!(r.status, 303, "{who} POST {path}: {}", r.body);
        assert_eq!(app.count(success_sql), 1, "{who} POST {path} did its work");
    } else {
        assert_eq!(r.status, 403, "{who} POST {path}");
        assert_eq!(
            fingerprint(app),
            before,
            "{who} POST {path} changed nothing"
        );
    }
}

/// Every route of the feature the matrix below exercises.
const COVERED: &[(&str, &str)] = &[
    ("GET", "/settings"),
    ("POST", "/settings"),
    ("GET", "/brand.css"),
    ("GET", "/brand/logo"),
    ("POST", "/settings/logo"),
    ("POST", "/settings/logo/remove"),
    ("GET", "/team"),
    ("POST", "/team/invitations"),
    ("POST", "/team/invitations/{id}/resend"),
    ("POST", "/team/invitations/{id}/revoke"),
    ("POST", "/team/members/{id}/role"),
    ("POST", "/team/members/{id}/permissions"),
    ("POST", "/team/members/{id}/remove"),
    ("POST", "/team/members/{id}/make-owner"),
    ("POST", "/team/leave"),
    ("POST", "/team/step-down"),
    ("GET", "/audit"),
];

#[actix_web::test]
async fn role_matrix_for_every_team_route() {
    use lead_dashboard::routes::{audit, brand, settings, team};
    let mut routes = [settings::ROUTES, brand::ROUTES, team::ROUTES, audit::ROUTES].concat();
    routes.sort();
    let mut covered = COVERED.to_vec();
    covered.sort();
    assert_eq!(
        routes, covered,
        "every route of the feature is in the matrix"
    );

    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    let admin = join(app, ORG, "Adam", "adam@example.com", "ADMIN").await;
    let member = join(app, ORG, "Mia", "mia@example.com", "MEMBER").await;
    let flagless = join(app, ORG, "Max", "max@example.com", "MEMBER").await;
    exec(app, "UPDATE organization_members SET can_manage_leads = false, can_send_messages = false, can_manage_templates = false WHERE user_id = (SELECT id FROM users WHERE email = 'max@example.com')");
    let viewer = join(app, ORG, "Vic", "vic@example.com", "VIEWER").await;
    // (who, client, email, manages members and settings, is owner)
    let actors = [
        ("OWNER", &t.owner, "olivia@example.com", true, true),
        ("ADMIN", &admin, "adam@example.com", true, false),
        ("MEMBER", &member, "mia@example.com", false, false),
        (
            "MEMBER without flags",
            &flagless,
            "max@example.com",
            false,
            false,
        ),
        ("VIEWER", &viewer, "vic@example.com", false, false),
    ];
    for (i, (who, c, email, manages, owns)) in actors.into_iter().enumerate() {
        let page = c.get("/team").await;
        assert_eq!(page.status, 200, "{who} GET /team");
        assert_eq!(
            page.body.contains("/team/members/"),
            manages,
            "{who}: management forms only for owners and admins"
        );
        let expect = if manages { 200 } else { 403 };
        assert_eq!(
            c.get("/settings").await.status,
            expect,
            "{who} GET /settings"
        );
        assert_eq!(c.get("/audit").await.status, expect, "{who} GET /audit");
        assert_eq!(
            c.get("/brand.css").await.status,
            200,
            "{who} GET /brand.css"
        );

        let name = format!("Renamed {i}");
        let form = [("name", name.as_str()), ("slug", ORG), ("time_zone", "UTC")];
        let sql = format!("SELECT count(*) FROM organizations WHERE name = '{name}'");
        check(app, c, who, "/settings", &form, manages, &sql).await;

        // Logo: everyone sees it; owners and admins replace and remove it.
        exec(app, "UPDATE organizations SET logo_content_type = 'image/png', logo_data = '\\x89504e470d0a1a0a' WHERE slug = 'olivia-s-organization'");
        assert_eq!(
            c.get("/brand/logo").await.status,
            200,
            "{who} GET /brand/logo"
        );
        let before = fingerprint(app);
        let r = post_logo(c, &png(&format!("logo {i}")), false).await;
        if manages {
            assert_eq!(r.status, 303, "{who} uploads a logo: {}", r.body);
            assert_eq!(app.count("SELECT octet_length(logo_data) FROM organizations WHERE slug = 'olivia-s-organization'"), 14);
        } else {
            assert_eq!(r.status, 403, "{who} uploads a logo");
            assert_eq!(fingerprint(app), before);
        }
        let sql = "SELECT count(*) FROM organizations WHERE slug = 'olivia-s-organization' AND logo_data IS NULL";
        check(app, c, who, "/settings/logo/remove", &[], manages, sql).await;

        let invitee = format!("new{i}@example.com");
        let form = [("email", invitee.as_str()), ("role", "MEMBER")];
        let sql = format!("SELECT count(*) FROM invitations WHERE email = '{invitee}'");
        check(app, c, who, "/team/invitations", &form, manages, &sql).await;

        let resent = format!("resend{i}@example.com");
        let inv = add_invitation(app, t.org, &resent);
        let path = format!("/team/invitations/{inv}/resend");
        let sql = format!("SELECT count(*) FROM mail_outbox WHERE to_email = '{resent}'");
        check(app, c, who, &path, &[], manages, &sql).await;

        let inv = add_invitation(app, t.org, &format!("revoke{i}@example.com"));
        let path = format!("/team/invitations/{inv}/revoke");
        let sql = format!(
            "SELECT count(*) FROM invitations WHERE id = '{inv}' AND revoked_at IS NOT NULL"
        );
        check(app, c, who, &path, &[], manages, &sql).await;

        let target = add_plain_member(app, ORG, &format!("role{i}@example.com"), "MEMBER");
        let path = format!("/team/members/{target}/role");
        let sql = format!("SELECT count(*) FROM organization_members WHERE user_id = '{target}' AND role = 'VIEWER'");
        check(app, c, who, &path, &[("role", "VIEWER")], manages, &sql).await;

        let target = add_plain_member(app, ORG, &format!("perm{i}@example.com"), "MEMBER");
        let path = format!("/team/members/{target}/permissions");
        let sql = format!("SELECT count(*) FROM organization_members WHERE user_id = '{target}' AND can_manage_leads AND NOT can_send_messages AND NOT can_manage_templates");
        check(
            app,
            c,
            who,
            &path,
            &[("can_manage_leads", "on")],
            manages,
            &sql,
        )
        .await;

        let target = add_plain_member(app, ORG, &format!("remove{i}@example.com"), "VIEWER");
        let path = format!("/team/members/{target}/remove");
        let sql =
            format!("SELECT 1 - count(*) FROM organization_members WHERE user_id = '{target}'");
        check(app, c, who, &path, &[], manages, &sql).await;

        let target = add_plain_member(app, ORG, &format!("promote{i}@example.com"), "ADMIN");
        let path = format!("/team/members/{target}/make-owner");
        let sql = format!("SELECT count(*) FROM organization_members WHERE user_id = '{target}' AND role = 'OWNER'");
        check(app, c, who, &path, &[], owns, &sql).await;

        // Last: stepping down (owners only) and leaving (anyone).
        let me = user_id(app, email);
        let sql = format!(
            "SELECT count(*) FROM organization_members WHERE user_id = '{me}' AND role = 'ADMIN'"
        );
        check(app, c, who, "/team/step-down", &[], owns, &sql).await;
        let left = c.post("/team/leave", &[]).await;
        assert_eq!(
            (left.status, left.location()),
            (303, Some("/orgs")),
            "{who} leaves"
        );
        assert_eq!(app.count(&format!("SELECT count(*) FROM organization_members WHERE user_id = '{me}' AND organization_id = '{}'", t.org)), 0);
        assert_eq!(
            c.get("/team").await.location(),
            Some("/orgs"),
            "{who} lost access"
        );
    }
}

#[actix_web::test]
async fn ids_of_another_organization_answer_404_and_change_nothing() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    app.signup("Otto", "otto@example.com").await;
    let other = org_id(app, OTHER);
    let stranger = add_plain_member(app, OTHER, "stranger@example.com", "MEMBER");
    let otto = user_id(app, "otto@example.com");
    let foreign_inv = add_invitation(app, other, "guest@example.com");
    let before = fingerprint(app);
    let mut paths = vec![
        format!("/team/invitations/{foreign_inv}/resend"),
        format!("/team/invitations/{foreign_inv}/revoke"),
        format!("/team/invitations/{}/revoke", uuid::Uuid::now_v7()),
        "/team/members/not-a-uuid/remove".to_string(),
    ];
    for user in [stranger, otto] {
        for action in ["role", "permissions", "remove", "make-owner"] {
            paths.push(format!("/team/members/{user}/{action}"));
        }
    }
    for path in &paths {
        let form = [("role", "ADMIN"), ("can_manage_leads", "on")];
        let plain = t.owner.post(path, &form).await;
        assert_eq!(plain.status, 404, "POST {path}");
        let htmx = t.owner.post_htmx(path, &form).await;
        assert_eq!(htmx.status, 404, "HTMX POST {path}");
    }
    assert_eq!(fingerprint(app), before, "nothing changed anywhere");
    let team = t.owner.get("/team").await;
    assert!(
        !team.body.contains("stranger@example.com") && !team.body.contains("guest@example.com")
    );
}

#[actix_web::test]
async fn the_last_owner_can_be_neither_removed_demoted_nor_leave() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    let admin = join(app, ORG, "Adam", "adam@example.com", "ADMIN").await;
    let olivia = user_id(app, "olivia@example.com");
    let before = fingerprint(app);
    let r = t.owner.post("/team/step-down", &[]).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("at least one owner"));
    assert_eq!(t.owner.post("/team/leave", &[]).await.status, 409);
    let own_role = format!("/team/members/{olivia}/role");
    assert_eq!(
        t.owner.post(&own_role, &[("role", "ADMIN")]).await.status,
        403
    );
    assert_eq!(
        admin.post(&own_role, &[("role", "ADMIN")]).await.status,
        403
    );
    let remove = format!("/team/members/{olivia}/remove");
    assert_eq!(
        admin.post(&remove, &[]).await.status,
        403,
        "admins never touch owners"
    );
    let htmx = t.owner.post_htmx("/team/leave", &[]).await;
    assert_eq!(htmx.status, 409);
    assert!(htmx.body.contains("at least one owner"), "alert fragment");
    assert_eq!(fingerprint(app), before);
    let page = t.owner.get("/team").await;
    assert!(page.body.contains("only owner"), "the page explains why");
}

/// Two owners demote each other (or both leave, or both step down) at the
/// same moment, several times over: an owner always remains.
#[actix_web::test]
async fn concurrent_owners_cannot_remove_the_last_owner() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    let second = join(app, ORG, "Sam", "sam@example.com", "OWNER").await;
    let (olivia, sam) = (
        user_id(app, "olivia@example.com"),
        user_id(app, "sam@example.com"),
    );
    let owners = || {
        app.count(&format!("SELECT count(*) FROM organization_members WHERE organization_id = '{}' AND role = 'OWNER'", t.org))
    };
    let restore = || {
        exec(app, &format!("UPDATE organization_members SET role = 'OWNER' WHERE user_id IN ('{olivia}', '{sam}')"))
    };
    for round in 0..6 {
        restore();
        let demote_sam = format!("/team/members/{sam}/role");
        let demote_olivia = format!("/team/members/{olivia}/role");
        let (a, b): (Resp, Resp) = match round % 3 {
            0 => {
                both(
                    t.owner.post(&demote_sam, &[("role", "ADMIN")]),
                    second.post(&demote_olivia, &[("role", "ADMIN")]),
                )
                .await
            }
            1 => {
                both(
                    t.owner.post("/team/step-down", &[]),
                    second.post("/team/step-down", &[]),
                )
                .await
            }
            _ => {
                both(
                    t.owner.post_htmx("/team/step-down", &[]),
                    second.post_htmx("/team/step-down", &[]),
                )
                .await
            }
        };
        assert_eq!(owners(), 1, "round {round}: one owner remains");
        let ok = [a.status, b.status]
            .iter()
            .filter(|s| [200, 303].contains(s))
            .count();
        assert_eq!(
            ok, 1,
            "round {round}: exactly one succeeds ({} / {})",
            a.status, b.status
        );
    }
    restore();
    let (a, b) = both(
        t.owner.post("/team/leave", &[]),
        second.post("/team/leave", &[]),
    )
    .await;
    assert_eq!(owners(), 1, "both leaving: one owner stays");
    assert_eq!(
        [a.status, b.status].iter().filter(|s| **s == 303).count(),
        1
    );
}

/// STARTER allows 3 users: with an owner and one member, 20 invitations
/// sent at once create exactly one.
#[actix_web::test]
async fn concurrent_invitations_never_exceed_the_seats() {
    let t = team_app("STARTER").await;
    let app = &t.app;
    add_plain_member(app, ORG, "member@example.com", "MEMBER");
    let emails: Vec<String> = (0..20).map(|i| format!("rush{i}@example.com")).collect();
    let forms: Vec<[(&str, &str); 2]> = emails
        .iter()
        .map(|e| [("email", e.as_str()), ("role", "VIEWER")])
        .collect();
    let responses = join_all(forms.iter().map(|f| t.owner.post("/team/invitations", f))).await;
    let created = responses.iter().filter(|r| r.status == 303).count();
    let refused = responses.iter().filter(|r| r.status == 402).count();
    assert_eq!((created, refused), (1, 19));
    assert_eq!(app.count("SELECT count(*) FROM invitations"), 1);
    assert_eq!(app.count("SELECT count(*) FROM mail_outbox"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE action = 'invitation.created'"),
        1
    );
    let page = t.owner.get("/team").await;
    assert!(page.body.contains("No seats left") && page.body.contains("href=\"/plans\""));
    assert!(
        !page.body.contains("action=\"/team/invitations\""),
        "no invite form at the limit"
    );
    // Revoking frees the seat again.
    let inv = text(app, "SELECT id FROM invitations");
    assert_eq!(
        t.owner
            .post(&format!("/team/invitations/{inv}/revoke"), &[])
            .await
            .status,
        303
    );
    let r = t
        .owner
        .post(
            "/team/invitations",
            &[("email", "late@example.com"), ("role", "ADMIN")],
        )
        .await;
    assert_eq!(r.status, 303);
}

#[actix_web::test]
async fn the_free_plan_offers_an_upgrade_instead_of_a_seat() {
    let t = team_app("FREE").await;
    let before = fingerprint(&t.app);
    let form = [("email", "ann@example.com"), ("role", "MEMBER")];
    let plain = t.owner.post("/team/invitations", &form).await;
    assert_eq!(plain.status, 402);
    assert!(plain.body.contains("href=\"/plans\"") && plain.body.contains("Free plan"));
    let htmx = t.owner.post_htmx("/team/invitations", &form).await;
    assert_eq!(htmx.status, 402);
    assert!(htmx.body.contains("id=\"team\"") && htmx.body.contains("href=\"/plans\""));
    assert_eq!(fingerprint(&t.app), before);
}

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
