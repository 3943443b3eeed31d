//! Invitation lifecycle: the mail and its link, accepting signed in,
//! signing up from the link, resend, and every link that no longer works.

use super::support::*;
use crate::common::PASSWORD;

/// Olivia invites `email`; returns the token from the mail.
async fn invite(t: &Team, email: &str, role: &str) -> String {
    let r = t
        .owner
        .post("/team/invitations", &[("email", email), ("role", role)])
        .await;
    assert_eq!(r.status, 303, "invite {email}: {}", r.body);
    mailed_token(&t.app, email)
}

fn invitation_count(t: &Team, email: &str, condition: &str) -> i64 {
    t.app.count(&format!(
        "SELECT count(*) FROM invitations WHERE email = '{email}' AND {condition}"
    ))
}

#[actix_web::test]
async fn a_signed_in_invitee_accepts_once() {
    let t = team_app("STARTER").await;
    let app = &t.app;
    let token = invite(&t, "ivy@example.com", "ADMIN").await;
    let mail = text(
        app,
        "SELECT subject || ' | ' || body_text FROM mail_outbox WHERE kind = 'invitation'",
    );
    assert!(
        mail.contains("Olivia invited you to Olivia's Organization"),
        "{mail}"
    );
    assert!(mail.contains(&format!("/invitations/{token}")) && mail.contains("as admin"));
    let hashed = format!("token_hash = sha256(convert_to('{token}', 'UTF8'))");
    assert_eq!(
        invitation_count(&t, "ivy@example.com", &hashed),
        1,
        "only the hash is stored"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM invitations i WHERE i::text LIKE '%{token}%'"
        )),
        0
    );

    let visitor = app.client();
    let page = visitor.get(&format!("/invitations/{token}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Olivia&#39;s Organization")
            || page.body.contains("Olivia's Organization")
    );
    assert!(page
        .body
        .contains(&format!("/login?next=%2Finvitations%2F{token}")));
    assert!(page.body.contains(&format!("/signup?invitation={token}")));

    let ivy = app.signup("Ivy", "ivy@example.com").await;
    app.verify_email("ivy@example.com");
    let page = ivy.get(&format!("/invitations/{token}")).await;
    assert!(page.status == 200 && page.body.contains("Accept invitation"));
    let r = ivy.post(&format!("/invitations/{token}"), &[]).await;
    assert_eq!((r.status, r.location()), (303, Some("/dashboard")));
    let ivy_id = user_id(app, "ivy@example.com");
    assert_eq!(role_of(app, ivy_id, t.org), "ADMIN");
    assert_eq!(
        invitation_count(&t, "ivy@example.com", &format!("accepted_by = '{ivy_id}'")),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'ivy@example.com' AND email_verified_at IS NOT NULL"), 1);
    assert!(
        ivy.get("/team").await.body.contains("olivia@example.com"),
        "the session works in the new organization"
    );
    let (action, actor, ..) = last_event(app);
    assert_eq!(
        (action.as_str(), actor.as_str()),
        ("invitation.accepted", "ivy@example.com")
    );

    // The link is used up: a second accept changes nothing.
    let before = fingerprint(app);
    let again = ivy.post(&format!("/invitations/{token}"), &[]).await;
    assert_eq!(again.status, 410);
    assert!(again.body.contains("already been used"));
    assert_eq!(fingerprint(app), before);
}

/// Anyone can open an account with someone else's address. Until it is
/// confirmed, that account neither reads the invitation in the development
/// outbox nor accepts it (even holding the link), and is not confirmed by trying.
#[actix_web::test]
async fn an_unconfirmed_account_with_the_invited_address_cannot_read_or_accept_it() {
    let t = team_app("STARTER").await;
    let app = &t.app;
    let squatter = app.signup("Ivy", "ivy@example.com").await;
    let token = invite(&t, "ivy@example.com", "ADMIN").await;

    let outbox = squatter.get("/dev/outbox").await;
    assert_eq!(outbox.status, 200);
    assert!(
        !outbox.body.contains(&token) && !outbox.body.contains("invited you"),
        "the invitation stays hidden: {}",
        outbox.body
    );
    assert!(
        !outbox.body.contains("Confirm your email address"),
        "mail to an unconfirmed address stays hidden"
    );

    let page = squatter.get(&format!("/invitations/{token}")).await;
    assert_eq!(page.status, 403);
    assert!(
        page.body.contains("Confirm your address first")
            && !page.body.contains("Accept invitation")
    );
    let before = fingerprint(app);
    let r = squatter.post(&format!("/invitations/{token}"), &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(fingerprint(app), before, "nothing changed");
    let ivy_id = user_id(app, "ivy@example.com");
    assert_eq!(app.count(&format!("SELECT count(*) FROM organization_members WHERE user_id = '{ivy_id}' AND organization_id = '{}'", t.org)), 0);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'ivy@example.com' AND email_verified_at IS NULL"), 1);
    assert_eq!(
        invitation_count(&t, "ivy@example.com", "accepted_at IS NULL"),
        1
    );

    // Once the address is confirmed, both work.
    app.verify_email("ivy@example.com");
    assert!(squatter.get("/dev/outbox").await.body.contains(&token));
    let r = squatter.post(&format!("/invitations/{token}"), &[]).await;
    assert_eq!((r.status, r.location()), (303, Some("/dashboard")));
}

#[actix_web::test]
async fn accepting_when_already_a_member_is_harmless() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    let mia = join(app, ORG, "Mia", "mia@example.com", "MEMBER").await;
    let token = "m".repeat(43);
    exec(app, &format!(
        "INSERT INTO invitations (organization_id, id, email, role, token_hash, expires_at) \
         VALUES ('{}', gen_random_uuid(), 'mia@example.com', 'ADMIN', sha256(convert_to('{token}', 'UTF8')), now() + interval '1 day')",
        t.org
    ));
    let r = mia.post(&format!("/invitations/{token}"), &[]).await;
    assert_eq!(r.status, 303);
    let mia_id = user_id(app, "mia@example.com");
    assert_eq!(role_of(app, mia_id, t.org), "MEMBER", "the role is kept");
    assert_eq!(app.count("SELECT count(*) FROM organization_members WHERE user_id = (SELECT id FROM users WHERE email = 'mia@example.com')"), 2);
}

#[actix_web::test]
async fn signing_up_from_the_link_joins_the_organization() {
    let t = team_app("STARTER").await;
    let app = &t.app;
    let token = invite(&t, "nora@example.com", "VIEWER").await;
    let c = app.client();
    let form = c.get(&format!("/signup?invitation={token}")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"nora@example.com\"") && form.body.contains("readonly"));
    assert!(form
        .body
        .contains(&format!("name=\"invitation\" value=\"{token}\"")));
    let (users, orgs) = (
        app.count("SELECT count(*) FROM users"),
        app.count("SELECT count(*) FROM organizations"),
    );

    let tampered = [
        ("name", "Nora"),
        ("email", "other@example.com"),
        ("password", PASSWORD),
        ("invitation", token.as_str()),
    ];
    let r = c.post("/signup", &tampered).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("This invitation is for nora@example.com"));
    assert_eq!(
        app.count("SELECT count(*) FROM users"),
        users,
        "nothing created"
    );

    let real = [
        ("name", "Nora"),
        ("email", "nora@example.com"),
        ("password", PASSWORD),
        ("invitation", token.as_str()),
    ];
    let r = c.post("/signup", &real).await;
    assert_eq!(
        (r.status, r.location()),
        (303, Some("/dashboard")),
        "{}",
        r.body
    );
    let nora = user_id(app, "nora@example.com");
    assert_eq!(role_of(app, nora, t.org), "VIEWER");
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'nora@example.com' AND email_verified_at IS NOT NULL"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM organizations"),
        orgs,
        "no personal organization"
    );
    assert_eq!(
        invitation_count(&t, "nora@example.com", "accepted_at IS NOT NULL"),
        1
    );
    let dash = c.get("/dashboard").await;
    assert!(
        dash.status == 200
            && (dash.body.contains("Olivia&#39;s Organization")
                || dash.body.contains("Olivia's Organization"))
    );
    let (action, actor, ..) = last_event(app);
    assert_eq!(
        (action.as_str(), actor.as_str()),
        ("invitation.accepted", "nora@example.com")
    );

    // The used link cannot make a second account.
    let late = app.client();
    late.get("/signup").await;
    let again = [
        ("name", "Eve"),
        ("email", "nora@example.com"),
        ("password", PASSWORD),
        ("invitation", token.as_str()),
    ];
    assert_eq!(late.post("/signup", &again).await.status, 410);
    assert_eq!(
        late.get(&format!("/signup?invitation={token}"))
            .await
            .status,
        410
    );
    assert_eq!(app.count("SELECT count(*) FROM users"), users + 1);
}

#[actix_web::test]
async fn expired_revoked_unknown_and_mismatched_links_change_nothing() {
    let t = team_app("ENTERPRISE").await;
    let app = &t.app;
    let expired = invite(&t, "old@example.com", "MEMBER").await;
    exec(app, "UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE email = 'old@example.com'");
    let revoked = invite(&t, "gone@example.com", "MEMBER").await;
    let id = text(
        app,
        "SELECT id FROM invitations WHERE email = 'gone@example.com'",
    );
    assert_eq!(
        t.owner
            .post(&format!("/team/invitations/{id}/revoke"), &[])
            .await
            .status,
        303
    );
    let someone_elses = invite(&t, "right@example.com", "MEMBER").await;
    let old = app.signup("Old", "old@example.com").await;
    let gone = app.signup("Gone", "gone@example.com").await;
    let wrong = app.signup("Wrong", "wrong@example.com").await;
    let visitor = app.client();
    visitor.get("/signup").await;
    let before = fingerprint(app);
    let cases = [
        (&old, &expired, 410, "expired"),
        (&gone, &revoked, 410, "withdrawn"),
        (&wrong, &someone_elses, 403, "for someone else"),
        (&wrong, &"x".repeat(43), 404, "not valid"),
        (&visitor, &expired, 410, "expired"),
    ];
    for (client, token, status, words) in cases {
        let path = format!("/invitations/{token}");
        let page = client.get(&path).await;
        assert_eq!(page.status, status, "GET {path}");
        assert!(page.body.contains(words), "GET {path} explains: {words}");
        let post = client.post(&path, &[]).await;
        let expected_post = if client.cookie("ld_session").is_some() {
            status
        } else {
            303
        };
        assert_eq!(post.status, expected_post, "POST {path}");
    }
    let form = [
        ("name", "Old"),
        ("email", "old@example.com"),
        ("password", PASSWORD),
        ("invitation", expired.as_str()),
    ];
    assert_eq!(visitor.post("/signup", &form).await.status, 410);
    assert_eq!(
        visitor
            .get(&format!("/signup?invitation={revoked}"))
            .await
            .status,
        410
    );
    assert_eq!(fingerprint(app), before, "nothing changed");
}

#[actix_web::test]
async fn resending_kills_the_old_link_and_needs_a_seat_when_expired() {
    let t = team_app("STARTER").await;
    let app = &t.app;
    let first = invite(&t, "ivy@example.com", "MEMBER").await;
    let id = text(
        app,
        "SELECT id FROM invitations WHERE email = 'ivy@example.com'",
    );
    let resend = format!("/team/invitations/{id}/resend");
    assert_eq!(t.owner.post(&resend, &[]).await.status, 303);
    let second = mailed_token(app, "ivy@example.com");
    assert_ne!(first, second);
    let visitor = app.client();
    assert_eq!(
        visitor.get(&format!("/invitations/{first}")).await.status,
        404
    );
    assert_eq!(
        visitor.get(&format!("/invitations/{second}")).await.status,
        200
    );
    assert_eq!(
        invitation_count(
            &t,
            "ivy@example.com",
            "expires_at > now() + interval '6 days'"
        ),
        1
    );

    // Expired, it holds no seat: reviving it needs one.
    exec(
        app,
        "UPDATE invitations SET expires_at = now() - interval '1 day'",
    );
    add_plain_member(app, ORG, "a@example.com", "MEMBER");
    add_plain_member(app, ORG, "b@example.com", "MEMBER");
    let before = fingerprint(app);
    assert_eq!(t.owner.post(&resend, &[]).await.status, 402);
    assert_eq!(fingerprint(app), before);
    exec(app, "DELETE FROM organization_members WHERE user_id = (SELECT id FROM users WHERE email = 'b@example.com')");
    assert_eq!(t.owner.post(&resend, &[]).await.status, 303);
    // Accepted or revoked invitations cannot be resent.
    assert_eq!(
        t.owner
            .post(&format!("/team/invitations/{id}/revoke"), &[])
            .await
            .status,
        303
    );
    let before = fingerprint(app);
    assert_eq!(t.owner.post(&resend, &[]).await.status, 409);
    assert_eq!(fingerprint(app), before);
}

#[actix_web::test]
async fn a_demoted_admins_invitations_that_their_new_role_cannot_grant_stop_working() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    let adam = join(app, ORG, "Adam", "adam@example.com", "ADMIN").await;
    let adam_id = user_id(app, "adam@example.com");
    // Adam invites his own second address as an admin, and a colleague.
    for (email, role) in [
        ("adam2@example.com", "ADMIN"),
        ("meg@example.com", "MEMBER"),
    ] {
        let r = adam
            .post("/team/invitations", &[("email", email), ("role", role)])
            .await;
        assert_eq!(r.status, 303, "invite {email}: {}", r.body);
    }
    let token = mailed_token(app, "adam2@example.com");

    let r = t
        .owner
        .post(
            &format!("/team/members/{adam_id}/role"),
            &[("role", "MEMBER")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        invitation_count(&t, "adam2@example.com", "revoked_at IS NOT NULL"),
        1,
        "a member may not invite an admin"
    );
    assert_eq!(
        invitation_count(&t, "meg@example.com", "revoked_at IS NOT NULL"),
        1,
        "a member may invite nobody"
    );
    // The link no longer lets the second address in as an admin.
    let second = app.signup("Adam Two", "adam2@example.com").await;
    app.verify_email("adam2@example.com");
    second.post(&format!("/invitations/{token}"), &[]).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM organization_members m JOIN users u ON u.id = m.user_id \
             WHERE u.email = 'adam2@example.com' AND m.organization_id = '{}'",
            t.org
        )),
        0
    );
    let (action, _, _, _, after) = last_event(app);
    assert_eq!(action, "member.role_changed");
    assert!(after.contains("\"invitations_revoked\": 2"), "{after}");
}

#[actix_web::test]
async fn an_owner_stepping_down_keeps_the_invitations_an_admin_may_send() {
    let t = team_app("PROFESSIONAL").await;
    let app = &t.app;
    join(app, ORG, "Owen", "owen@example.com", "OWNER").await;
    let r = t
        .owner
        .post(
            "/team/invitations",
            &[("email", "amy@example.com"), ("role", "ADMIN")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = t.owner.post("/team/step-down", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        role_of(app, user_id(app, "olivia@example.com"), t.org),
        "ADMIN"
    );
    assert_eq!(
        invitation_count(&t, "amy@example.com", "revoked_at IS NULL"),
        1,
        "an admin may still invite an admin"
    );
}
