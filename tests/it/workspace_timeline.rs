//! The lead page's activity timeline: what happened to a lead, newest
//! first, with who and when — added, status moves, messages with their
//! delivery state, enrolments and where they stand, notes and edits — from
//! every path that changes a lead (the page, the owner card, the API, bulk
//! actions, a member's removal), paged both ways, and never another
//! organization's.

use serde_json::json;
use uuid::Uuid;

use crate::api::support::{call, create_key};
use crate::common::{uuid_of, Client, TestApp};
use crate::team::support::*;

/// Adds a lead on the page as `who`; returns its id.
async fn add_lead(app: &TestApp, who: &Client, email: &str) -> Uuid {
    let r = who
        .post(
            "/leads",
            &[
                ("first_name", "Ada"),
                ("last_name", "Byron"),
                ("email", email),
                ("company", "Acme"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "add {email}: {}", r.body);
    uuid_of(
        &mut app.conn(),
        &format!("SELECT id FROM leads WHERE email = '{email}'"),
    )
}

/// Saves the edit form of `lead` with these fields (the rest as added).
async fn edit(who: &Client, lead: Uuid, email: &str, more: &[(&str, &str)]) -> u16 {
    let mut form = vec![
        ("first_name", "Ada"),
        ("last_name", "Byron"),
        ("email", email),
        ("company", "Acme"),
        ("status", "new"),
    ];
    for (k, v) in more {
        form.retain(|(f, _)| f != k);
        form.push((k, v));
    }
    who.post(&format!("/leads/{lead}"), &form).await.status
}

/// The `data-kind` of each timeline entry on a lead page, top to bottom.
fn kinds(body: &str) -> Vec<String> {
    body.split("class=\"timeline-item\" data-kind=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

/// The part of the page holding the timeline.
fn timeline(body: &str) -> &str {
    let start = body.find("id=\"activity\"").expect("the activity card");
    &body[start..]
}

#[actix_web::test]
async fn the_lead_page_shows_what_happened_newest_first_with_who_and_when() {
    let t = team_app("STARTER").await;
    join(&t.app, ORG, "Max", "max@example.com", "MEMBER").await;
    let lead = add_lead(&t.app, &t.owner, "ada@example.com").await;
    // Saves that add a note, change the company, then move the status.
    let note = ("notes", "Met at the fair.\nWants a demo.");
    assert_eq!(edit(&t.owner, lead, "ada@example.com", &[note]).await, 303);
    let company = ("company", "Acme Ltd");
    assert_eq!(
        edit(&t.owner, lead, "ada@example.com", &[note, company]).await,
        303
    );
    let status = ("status", "contacted");
    assert_eq!(
        edit(&t.owner, lead, "ada@example.com", &[note, company, status]).await,
        303
    );
    let max = user_id(&t.app, "max@example.com").to_string();
    let r = t
        .owner
        .post(&format!("/leads/{lead}/owner"), &[("owner", &max)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // A message that was sent and one that failed, by the owner; a sequence
    // enrolment that stopped; each a little later than the last.
    let olivia = user_id(&t.app, "olivia@example.com");
    exec(
        &t.app,
        &format!(
            "INSERT INTO messages (organization_id, id, lead_id, to_email, subject, body, status, sender_user_id, error, created_at, sent_at)
             VALUES ('{o}', gen_random_uuid(), '{lead}', 'ada@example.com', 'Hello Ada', 'B', 'sent', '{olivia}', NULL, now() + interval '1 minute', now() + interval '1 minute'),
                    ('{o}', gen_random_uuid(), '{lead}', 'ada@example.com', 'Following up', 'B', 'failed', '{olivia}', 'Mailbox full', now() + interval '2 minutes', NULL);
             INSERT INTO sequences (organization_id, owner_key, id, name) VALUES ('{o}', '{o}', '{seq}', 'Outbound Q4');
             INSERT INTO sequence_enrollments (organization_id, id, lead_id, sequence_owner_key, sequence_id, status, enrolled_by, paused_reason, created_at, updated_at)
             VALUES ('{o}', gen_random_uuid(), '{lead}', '{o}', '{seq}', 'stopped', '{olivia}', 'Stopped: the lead replied.', now() + interval '3 minutes', now() + interval '4 minutes');",
            o = t.org,
            seq = Uuid::new_v4(),
        ),
    );

    let page = t.owner.get(&format!("/leads/{lead}")).await;
    assert_eq!(page.status, 200);
    let body = timeline(&page.body);
    assert_eq!(
        kinds(body),
        [
            "enrolment",
            "enrolled",
            "message",
            "message",
            "edited",
            "status",
            "edited",
            "edited",
            "created"
        ],
        "newest first"
    );
    for shown in [
        "Outbound Q4",
        "Stopped: the lead replied.",
        "Following up",
        "Mailbox full",
        "Hello Ada",
        "Owner",
        "Max",
        "Acme Ltd",
        "Note added",
        "Met at the fair.\nWants a demo.",
        "Added as",
        "on the leads page",
        " · Olivia",
    ] {
        assert!(
            body.contains(shown),
            "{shown:?} missing from the timeline:\n{body}"
        );
    }
    // The status move is one entry with both statuses, by Olivia.
    let status = body.split("data-kind=\"status\"").nth(1).unwrap();
    let status = &status[..status.find("</li>").unwrap()];
    assert!(
        status.contains("New") && status.contains("Contacted") && status.contains("Olivia"),
        "{status}"
    );
    // The edit with the company says from what to what; the note is not repeated there.
    let edited = body.split("data-kind=\"edited\"").nth(2).unwrap();
    let edited = &edited[..edited.find("</li>").unwrap()];
    assert!(
        edited.contains("Acme") && edited.contains("Acme Ltd") && !edited.contains("Met at"),
        "{edited}"
    );
    // Who changed it is recorded with each row.
    assert_eq!(
        t.app.count(&format!(
            "SELECT count(*) FROM lead_edits WHERE lead_id = '{lead}' AND changed_by = '{olivia}'"
        )),
        3
    );
}

#[actix_web::test]
async fn every_way_of_changing_a_lead_leaves_an_entry() {
    let t = team_app("PROFESSIONAL").await;
    let max = join(&t.app, ORG, "Max", "max@example.com", "ADMIN").await;
    let lead = add_lead(&t.app, &max, "ada@example.com").await;
    let edits = |field: &str| {
        t.app.count(&format!(
            "SELECT count(*) FROM lead_edits WHERE lead_id = '{lead}' AND changes ? '{field}'"
        ))
    };

    // The API (no member acting: the key's organization only).
    let key = create_key(&t.owner, "ci", "read_write").await;
    let r = call(
        &t.app,
        "PATCH",
        &format!("/api/v1/leads/{lead}"),
        Some(&key),
        Some(json!({ "title": "CTO" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(edits("title"), 1);

    // A bulk tag.
    let r = t
        .owner
        .post(
            "/leads/bulk",
            &[
                ("action", "tag_add"),
                ("scope", "picked"),
                ("lead_id", &lead.to_string()),
                ("bulk_tag", "vip"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(edits("tags"), 1);

    // Max leaves; his lead goes to Olivia, and that is an owner change.
    let max_id = user_id(&t.app, "max@example.com");
    let olivia = user_id(&t.app, "olivia@example.com").to_string();
    let r = t
        .owner
        .post(
            &format!("/team/members/{max_id}/remove"),
            &[("leads_to", &olivia)],
        )
        .await;
    assert!(r.status == 303 || r.status == 200, "{}", r.body);
    assert_eq!(edits("owner"), 1);

    // An update that changes no field records nothing.
    let before = t.app.count("SELECT count(*) FROM lead_edits");
    exec(
        &t.app,
        &format!("UPDATE leads SET updated_at = updated_at WHERE id = '{lead}'"),
    );
    assert_eq!(t.app.count("SELECT count(*) FROM lead_edits"), before);

    let page = t.owner.get(&format!("/leads/{lead}")).await;
    let body = timeline(&page.body);
    assert_eq!(kinds(body), ["edited", "edited", "edited", "created"]);
    assert!(
        body.contains("vip") && body.contains("CTO") && body.contains("a former member"),
        "{body}"
    );
    drop(max);
}

#[actix_web::test]
async fn the_timeline_pages_both_ways_and_keeps_its_place_in_the_url() {
    let t = team_app("STARTER").await;
    let lead = add_lead(&t.app, &t.owner, "ada@example.com").await;
    // 44 edits a minute apart after the creation: 45 entries, pages of 20.
    exec(
        &t.app,
        &format!(
            "INSERT INTO lead_edits (organization_id, lead_id, changes, changed_at)
             SELECT '{o}', '{lead}', jsonb_build_object('title', jsonb_build_object('from', 'T' || (n - 1), 'to', 'T' || n)),
                    now() + n * interval '1 minute'
             FROM generate_series(1, 44) n",
            o = t.org
        ),
    );
    let first = t.owner.get(&format!("/leads/{lead}")).await;
    let body = timeline(&first.body);
    assert_eq!(kinds(body).len(), 20);
    assert!(body.contains("T43 → T44"), "the newest edit first");
    let older = link(body, "rel=\"next\"").expect("an Older link");
    assert!(
        older.contains("?after=") && older.ends_with("#activity"),
        "{older}"
    );

    let second = t.owner.get(&older).await;
    let body2 = timeline(&second.body);
    assert_eq!(kinds(body2).len(), 20);
    assert!(
        body2.contains("T24") && !body2.contains("T44"),
        "the page below the first"
    );
    let third = t.owner.get(&link(body2, "rel=\"next\"").unwrap()).await;
    let body3 = timeline(&third.body);
    assert_eq!(kinds(body3).len(), 5);
    assert_eq!(kinds(body3).last().unwrap(), "created");
    assert!(
        link(body3, "rel=\"next\"").is_none(),
        "nothing older than the creation"
    );

    // "Newer" from the last page gives the second page back.
    let back = t.owner.get(&link(body3, "rel=\"prev\"").unwrap()).await;
    assert_eq!(kinds(timeline(&back.body)), kinds(body2));
    assert_eq!(entry_times(timeline(&back.body)), entry_times(body2));

    // A cursor that is not one starts at the top.
    let junk = t.owner.get(&format!("/leads/{lead}?after=junk")).await;
    assert_eq!(junk.status, 200);
    assert_eq!(entry_times(timeline(&junk.body)), entry_times(body));
}

#[actix_web::test]
async fn another_organizations_lead_and_history_stay_out_of_reach() {
    let t = team_app("STARTER").await;
    let viewer = join(&t.app, ORG, "Vic", "vic@example.com", "VIEWER").await;
    let lead = add_lead(&t.app, &t.owner, "ada@example.com").await;
    let otto = t.app.signup("Otto", "otto@example.com").await;
    t.app.verify_email("otto@example.com");
    let theirs = add_lead(&t.app, &otto, "secret@example.com").await;
    exec(
        &t.app,
        &format!("UPDATE leads SET company = 'Hidden Corp' WHERE id = '{theirs}'"),
    );

    // Otto's lead is not found from Olivia's organization, with or without a cursor.
    for path in [
        format!("/leads/{theirs}"),
        format!("/leads/{theirs}?after=1764000000000000.{theirs}"),
    ] {
        let r = t.owner.get(&path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.body.contains("Hidden Corp") && !r.body.contains("secret@example.com"));
    }
    // A viewer reads the timeline (no edit forms).
    let page = viewer.get(&format!("/leads/{lead}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(kinds(timeline(&page.body)), ["created"]);
    assert!(!page.body.contains("Give this lead to"));
    // And Otto's own page shows his edit, which Olivia's never does.
    let his = otto.get(&format!("/leads/{theirs}")).await;
    assert!(timeline(&his.body).contains("Hidden Corp"));
    let mine = t.owner.get(&format!("/leads/{lead}")).await;
    assert!(!mine.body.contains("Hidden Corp"));
}

/// The href of the pagination link carrying `rel`, unescaped.
fn link(body: &str, rel: &str) -> Option<String> {
    let at = body.find(rel)?;
    let tag_start = body[..at].rfind("<a ")?;
    let tag = &body[tag_start..];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&"))
}

/// The machine times of the entries, top to bottom.
fn entry_times(body: &str) -> Vec<String> {
    body.split("<time datetime=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}
