//! Lead owners: shown on the lead page, given to another member (never to
//! someone outside the organization), filtered by ("My leads", unassigned,
//! a member), and handed over when a member is removed or leaves.

use crate::common::Client;
use crate::team::support::*;

/// Adds a lead as `who`; returns its id.
async fn add_lead(t: &Team, who: &Client, email: &str) -> String {
    let r = who
        .post(
            "/leads",
            &[
                ("first_name", "Lee"),
                ("last_name", "Owner"),
                ("email", email),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "add {email}: {}", r.body);
    text(
        &t.app,
        &format!("SELECT id::text FROM leads WHERE email = '{email}'"),
    )
}

fn owner_of(t: &Team, email: &str) -> String {
    text(
        &t.app,
        &format!(
            "SELECT coalesce((SELECT u.email FROM leads l JOIN users u ON u.id = l.owner_user_id \
             WHERE l.email = '{email}'), 'nobody')"
        ),
    )
}

/// No lead anywhere points at someone who is not a member of its organization.
fn no_foreign_owners(t: &Team) {
    assert_eq!(
        t.app.count(
            "SELECT count(*) FROM leads l WHERE owner_user_id IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM organization_members m WHERE m.organization_id = l.organization_id \
              AND m.user_id = l.owner_user_id)"
        ),
        0
    );
}

#[actix_web::test]
async fn a_lead_is_given_to_members_only_by_those_with_lead_rights() {
    let t = team_app("STARTER").await;
    let max = join(&t.app, ORG, "Max", "max@example.com", "MEMBER").await;
    let vic = join(&t.app, ORG, "Vic", "vic@example.com", "VIEWER").await;
    t.app.signup("Sam", "sam@example.com").await;
    let lead = add_lead(&t, &t.owner, "ada@example.com").await;
    let page = t.owner.get(&format!("/leads/{lead}")).await;
    assert!(page.body.contains("Olivia") && page.body.contains("Give this lead to"));
    assert_eq!(owner_of(&t, "ada@example.com"), "olivia@example.com");

    let max_id = user_id(&t.app, "max@example.com").to_string();
    let r = t
        .owner
        .post(&format!("/leads/{lead}/owner"), &[("owner", &max_id)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(owner_of(&t, "ada@example.com"), "max@example.com");
    assert_eq!(
        t.app
            .count("SELECT count(*) FROM audit_events WHERE action = 'lead.owner_changed'"),
        1
    );

    // Someone outside the organization, a made-up id, a viewer: refused, nothing changes.
    let sam_id = user_id(&t.app, "sam@example.com").to_string();
    for (who, value, status) in [
        (&t.owner, sam_id.as_str(), 400),
        (&t.owner, "not-an-id", 400),
        (&vic, "", 403),
    ] {
        let r = who
            .post(&format!("/leads/{lead}/owner"), &[("owner", value)])
            .await;
        assert_eq!(r.status, status, "owner={value}: {}", r.body);
        assert_eq!(owner_of(&t, "ada@example.com"), "max@example.com");
    }
    let r = t
        .owner
        .post(&format!("/leads/{lead}/owner"), &[("owner", &sam_id)])
        .await;
    assert!(
        r.body.contains("member of this organization"),
        "a clear message: {}",
        r.body
    );

    // Max (a member with lead rights) gives it to nobody.
    let r = max
        .post(&format!("/leads/{lead}/owner"), &[("owner", "")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(owner_of(&t, "ada@example.com"), "nobody");
    no_foreign_owners(&t);
}

#[actix_web::test]
async fn the_list_filters_by_owner() {
    let t = team_app("STARTER").await;
    let max = join(&t.app, ORG, "Max", "max@example.com", "MEMBER").await;
    add_lead(&t, &t.owner, "mine@example.com").await;
    add_lead(&t, &max, "maxs@example.com").await;
    let loose = add_lead(&t, &t.owner, "loose@example.com").await;
    t.owner
        .post(&format!("/leads/{loose}/owner"), &[("owner", "")])
        .await;

    let mine = t.owner.get("/leads?owner=me").await;
    assert!(mine.body.contains("mine@example.com"));
    assert!(!mine.body.contains("maxs@example.com") && !mine.body.contains("loose@example.com"));
    let max_id = user_id(&t.app, "max@example.com");
    let his = t.owner.get(&format!("/leads?owner={max_id}")).await;
    assert!(his.body.contains("maxs@example.com") && !his.body.contains("mine@example.com"));
    let none = t.owner.get("/leads?owner=none").await;
    assert!(none.body.contains("loose@example.com") && !none.body.contains("mine@example.com"));
    let export = t.owner.get("/leads/export?owner=me").await;
    assert!(export.body.contains("mine@example.com") && !export.body.contains("maxs@example.com"));
    assert_eq!(t.owner.get("/leads?owner=someone").await.status, 400);
}

#[actix_web::test]
async fn a_removed_member_hands_their_leads_to_the_chosen_member_or_to_nobody() {
    let t = team_app("STARTER").await;
    let max = join(&t.app, ORG, "Max", "max@example.com", "MEMBER").await;
    let ann = join(&t.app, ORG, "Ann", "ann@example.com", "MEMBER").await;
    add_lead(&t, &max, "max1@example.com").await;
    add_lead(&t, &ann, "ann1@example.com").await;
    t.app.signup("Sam", "sam@example.com").await;
    let page = t.owner.get("/team").await;
    assert!(
        page.body.contains("leads to"),
        "removal asks who takes the leads"
    );

    // A non-member as heir: refused, Max stays.
    let max_id = user_id(&t.app, "max@example.com");
    let sam_id = user_id(&t.app, "sam@example.com").to_string();
    let r = t
        .owner
        .post(
            &format!("/team/members/{max_id}/remove"),
            &[("leads_to", &sam_id)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(owner_of(&t, "max1@example.com"), "max@example.com");

    let olivia_id = user_id(&t.app, "olivia@example.com").to_string();
    let r = t
        .owner
        .post(
            &format!("/team/members/{max_id}/remove"),
            &[("leads_to", &olivia_id)],
        )
        .await;
    assert!(r.status == 303 || r.status == 200, "{}", r.body);
    assert_eq!(owner_of(&t, "max1@example.com"), "olivia@example.com");

    let ann_id = user_id(&t.app, "ann@example.com");
    t.owner
        .post(
            &format!("/team/members/{ann_id}/remove"),
            &[("leads_to", "")],
        )
        .await;
    assert_eq!(owner_of(&t, "ann1@example.com"), "nobody");
    drop((max, ann));
    no_foreign_owners(&t);
}

#[actix_web::test]
async fn a_member_who_leaves_leaves_their_leads_unassigned() {
    let t = team_app("STARTER").await;
    let max = join(&t.app, ORG, "Max", "max@example.com", "MEMBER").await;
    add_lead(&t, &max, "max1@example.com").await;
    let r = max.post("/team/leave", &[]).await;
    assert!(r.status == 303 || r.status == 200, "{}", r.body);
    assert_eq!(owner_of(&t, "max1@example.com"), "nobody");
    no_foreign_owners(&t);
}
