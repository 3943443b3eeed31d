//! Team: the role matrix of every route of the feature, tenant isolation and
//! the last-owner rule (also under concurrency). Seats, audit events per
//! change, invitations, settings and the audit page are in the submodules.

mod changes;
mod invitations;
mod seats;
mod settings_audit;
pub(crate) mod support;

use futures_util::future::join as both;

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
        let sql = format!(
            "SELECT count(*) FROM mail_outbox WHERE to_email = '{resent}' AND kind = 'invitation'"
        );
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
