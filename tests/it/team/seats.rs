//! Seats: members plus open invitations never exceed the plan's users, even
//! when many invitations are sent at once; at the limit the page offers an upgrade.

use futures_util::future::join_all;

use super::support::*;

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
    assert_eq!(
        app.count("SELECT count(*) FROM mail_outbox WHERE kind = 'invitation'"),
        1
    );
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
