//! Flows in a real browser: Debian's Chromium driven by Playwright
//! (tests/browser/steps.mjs), one process per step, cookies kept between
//! steps like a returning user. Each flow runs against a real server on its
//! own database, with JavaScript (htmx) and without it (plain forms).
//! Screenshots of each final state land in target/browser-shots/. The
//! mailbox flow runs at desktop and phone width, with real SMTP and IMAP
//! servers on loopback.

use std::path::PathBuf;
use std::process::Command;

use lead_dashboard::db::SystemAccess;

use crate::common::dovecot::Dovecot;
use crate::common::{TestApp, PASSWORD};
use crate::workspace_mail::SmtpSink;

/// A browser profile (one person's cookies) for the steps of one flow.
struct Browser {
    base: String,
    state: PathBuf,
    shots: PathBuf,
    js: bool,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Browser {
    fn new(app: &TestApp, flow: &str, person: &str, js: bool) -> Browser {
        let dir = root().join("target/browser-state").join(flow);
        std::fs::create_dir_all(&dir).unwrap();
        let state = dir.join(format!("{person}.json"));
        let _ = std::fs::remove_file(&state);
        Browser {
            base: app.url(""),
            state,
            shots: root().join("target/browser-shots").join(flow),
            js,
        }
    }

    /// Runs one step; panics with the browser's message when it fails.
    async fn step(&self, name: &str, args: &[(&str, &str)]) {
        let script = root().join("tests/browser/steps.mjs");
        assert!(
            root()
                .join("tests/browser/node_modules/playwright-core")
                .exists(),
            "browser tests need Playwright and Chromium: run scripts/test-prereqs"
        );
        let mut cmd = Command::new("node");
        cmd.arg(&script)
            .arg(name)
            .arg("--base")
            .arg(&self.base)
            .arg("--state")
            .arg(&self.state)
            .arg("--shots")
            .arg(&self.shots);
        if !self.js {
            cmd.arg("--no-js");
        }
        for (k, v) in args {
            cmd.arg(format!("--{k}")).arg(v);
        }
        let out = actix_web::web::block(move || cmd.output())
            .await
            .unwrap()
            .expect("node runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "browser step {name} failed:\n{stdout}\n{stderr}"
        );
        // What a step reports (axe's counts per page) shows with --nocapture.
        print!("{stdout}");
    }
}

/// The link of the newest mail to `to` of `kind`, on the test server.
fn link_in_mail(app: &TestApp, to: &str, kind: &str, path_part: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Body {
        #[diesel(sql_type = diesel::sql_types::Text)]
        body_text: String,
    }
    let body = diesel::RunQueryDsl::get_result::<Body>(
        diesel::sql_query(format!(
            "SELECT body_text FROM mail_outbox WHERE to_email = '{to}' AND kind = '{kind}' ORDER BY created_at DESC LIMIT 1"
        )),
        &mut app.conn(),
    )
    .expect("mail was queued")
    .body_text;
    let re = regex::Regex::new(&format!(r"https?://[^/\s]+({path_part}[^\s]+)")).unwrap();
    let path = &re.captures(&body).expect("link in the mail")[1];
    app.url(path)
}

async fn team_flow(js: bool) {
    let flow = if js { "team" } else { "team-nojs" };
    let app = TestApp::new().await;
    let owner = Browser::new(&app, flow, "owner", js);
    owner
        .step(
            "signup",
            &[
                ("name", "Olivia"),
                ("email", "olivia@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let verify = link_in_mail(&app, "olivia@example.com", "account", "/account/verify/");
    owner
        .step(
            "open",
            &[
                ("url", &verify),
                ("click", "Confirm your email address"),
                ("expect", "confirmed"),
            ],
        )
        .await;
    // FREE has one seat: the owner first tries Starter (the trial allows it).
    owner.step("upgrade", &[("plan", "Starter")]).await;
    owner
        .step(
            "invite",
            &[("email", "max@example.com"), ("role", "MEMBER")],
        )
        .await;
    let invitation = link_in_mail(&app, "max@example.com", "invitation", "/invitations/");
    let member = Browser::new(&app, flow, "member", js);
    member
        .step(
            "accept",
            &[
                ("url", &invitation),
                ("email", "max@example.com"),
                ("name", "Max"),
                ("password", PASSWORD),
                ("org", "Olivia's Organization"),
            ],
        )
        .await;
    owner
        .step("change-role", &[("member", "Max"), ("role", "VIEWER")])
        .await;
    member.step("viewer-readonly", &[]).await;
    assert_eq!(
        app.count("SELECT count(*) FROM organization_members WHERE role = 'VIEWER'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM invitations WHERE email = 'sneaky@example.com'"),
        0
    );
}

#[actix_web::test]
async fn sign_up_invite_accept_and_demote_in_chromium() {
    team_flow(true).await;
}

#[actix_web::test]
async fn the_same_flow_works_without_javascript() {
    team_flow(false).await;
}

async fn limits_flow(js: bool) {
    let flow = if js { "limits" } else { "limits-nojs" };
    let app = TestApp::new().await;
    let owner = Browser::new(&app, flow, "owner", js);
    owner
        .step(
            "signup",
            &[
                ("name", "Lena"),
                ("email", "lena@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    // 49 of the 50 FREE leads of this month are already used.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO usage_counters (organization_id, kind, period, period_start, count)
             SELECT id, 'lead_created', 'month', date_trunc('month', now() AT TIME ZONE 'UTC')::date, 49 FROM organizations",
        ),
        &mut app.conn(),
    )
    .unwrap();
    owner
        .step(
            "add-lead",
            &[
                ("first", "Fifty"),
                ("email", "fifty@example.com"),
                ("expect", "fifty@example.com"),
            ],
        )
        .await;
    owner
        .step(
            "meter",
            &[("limit", "leads_per_month"), ("class", "is-full")],
        )
        .await;
    owner
        .step(
            "add-lead",
            &[
                ("first", "Extra"),
                ("email", "extra@example.com"),
                ("expect", "Upgrade"),
            ],
        )
        .await;
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE email = 'extra@example.com'"),
        0
    );
    owner.step("upgrade", &[("plan", "Starter")]).await;
    owner
        .step(
            "add-lead",
            &[
                ("first", "Extra"),
                ("email", "extra@example.com"),
                ("expect", "extra@example.com"),
            ],
        )
        .await;
    owner
        // After the upgrade the meter is no longer full.
        .step(
            "meter",
            &[
                ("limit", "leads_per_month"),
                ("class", "meter"),
                ("not", "is-full"),
            ],
        )
        .await;
    assert_eq!(app.count("SELECT count(*) FROM leads"), 2);

    let csv = root().join(format!("target/browser-state/{flow}/leads.csv"));
    std::fs::write(&csv, "first_name,last_name,email,company\nAda,Lovelace,ada@example.com,Analytical\nBad,Row,not-an-email,X\nGrace,Hopper,grace@example.com,Navy\n").unwrap();
    owner
        .step(
            "import-csv",
            &[
                ("file", csv.to_str().unwrap()),
                ("problem", "Line 3"),
                ("done", "Imported 2 leads"),
            ],
        )
        .await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM leads WHERE email IN ('ada@example.com', 'grace@example.com')"
        ),
        2
    );
    // The table pages at phone width: nothing cut off on the right, with a
    // message to a long address in the messages table.
    {
        use diesel::RunQueryDsl;
        diesel::sql_query(
            "INSERT INTO messages (organization_id, id, lead_id, to_email, subject, body, status, sent_at) \
             SELECT organization_id, gen_random_uuid(), id, 'ada.lovelace.analytical.engines@department-of-computation.example', \
                    'A rather long subject line about the analytical engine', 'Hi', 'sent', now() \
             FROM leads WHERE email = 'ada@example.com'",
        )
        .execute(&mut app.conn())
        .unwrap();
    }
    // The table pages, and a lead's page with its activity timeline, at
    // phone width: nothing cut off on the right.
    let ada = crate::common::uuid_of(
        &mut app.conn(),
        "SELECT id FROM leads WHERE email = 'ada@example.com'",
    );
    let lead_page = format!("/leads/{ada}");
    let tables =
        format!("/leads,{lead_page},/team,/messages,/audit,/usage,/billing,/analytics,/privacy");
    owner.step("phone-tables", &[("paths", &tables)]).await;
    // The signed-in pages at desktop width, checked with axe-core.
    let pages = format!(
        "/dashboard,/leads,{lead_page},/leads/import,/team,/messages,/templates,/sequences,\
         /audit,/usage,/plans,/billing,/analytics,/settings,/account,/privacy"
    );
    owner.step("axe", &[("paths", &pages)]).await;
}

#[actix_web::test]
async fn lead_limit_upgrade_and_csv_import_in_chromium() {
    limits_flow(true).await;
}

#[actix_web::test]
async fn lead_limit_upgrade_and_csv_import_without_javascript() {
    limits_flow(false).await;
}

/// The mailbox flow's servers: an SMTP sink and a Dovecot that both want
/// the same login.
const MAIL_USER: &str = "olivia";
const SMTP_PASSWORD: &str = "smtp-Pa55word-xyz";
const IMAP_PASSWORD: &str = "imap-Pa55word-xyz";
const REPLY: &str = "Thursday at 10 works for me, talk then.";

/// An owner connects her mailbox in the browser at `width` px; the app sends
/// a message from it to Lea, Lea's reply lands in the inbox and one inbox
/// pass reads it; the owner opens Lea's page and reads the reply there.
async fn mailbox_flow(width: u32, js: bool) {
    let flow = format!("mailbox-{width}{}", if js { "" } else { "-nojs" });
    let app = TestApp::with_config(|c| c.mailbox_allow_private_hosts = true).await;
    let sink = SmtpSink::start_with_login(&format!("{MAIL_USER}:{SMTP_PASSWORD}"));
    let dovecot = Dovecot::start(&[(MAIL_USER, IMAP_PASSWORD)]);
    let owner = Browser::new(&app, &flow, "owner", js);
    let width = width.to_string();
    let email = "olivia@example.com";
    owner
        .step(
            "signup",
            &[("name", "Olivia"), ("email", email), ("password", PASSWORD)],
        )
        .await;
    app.verify_email(email);
    let (smtp_port, imap_port) = (sink.port().to_string(), dovecot.port().to_string());
    owner
        .step(
            "connect-mailbox",
            &[
                ("width", &width),
                ("name", "Olivia Sales"),
                ("email", "olivia@sales.example"),
                ("user", MAIL_USER),
                ("smtp-port", &smtp_port),
                ("smtp-password", SMTP_PASSWORD),
                ("imap-port", &imap_port),
                ("imap-password", IMAP_PASSWORD),
            ],
        )
        .await;
    send_to_lea(&app, email).await;
    let sent = sink.received();
    assert_eq!(sent.len(), 1, "one message went out through the sink");
    let message_id = header(&sent[0], "Message-ID").expect("the sent mail has a Message-ID");
    // Lea answers a minute later: the reply is the newest entry of her page.
    let reply = lea_replies(&message_id, app.now() + chrono::Duration::minutes(1));
    dovecot.append(MAIL_USER, IMAP_PASSWORD, "INBOX", &reply);
    read_inboxes(&app).await;
    assert_eq!(
        app.count("SELECT count(*) FROM inbound_messages WHERE kind = 'reply'"),
        1,
        "the reply was read and matched"
    );
    owner
        .step(
            "read-conversation",
            &[("width", &width), ("lead", "Lea Test"), ("expect", REPLY)],
        )
        .await;
}

/// The owner sends the global intro to a new lead, Lea, through the send
/// form (as a signed-in client); the delivery job hands it to her mailbox.
async fn send_to_lea(app: &TestApp, email: &str) {
    use diesel::RunQueryDsl;
    // The mailbox sends at any hour and day, without a gap, for the test.
    diesel::sql_query(
        "UPDATE mailboxes SET send_days = 127, window_start_minute = 0, \
         window_end_minute = 1440, min_gap_seconds = 0, gap_jitter_percent = 0",
    )
    .execute(&mut app.conn())
    .unwrap();
    let lead = uuid::Uuid::now_v7();
    diesel::sql_query(format!(
        "INSERT INTO leads (organization_id, id, first_name, last_name, email, company, status) \
         SELECT id, '{lead}', 'Lea', 'Test', 'lea@customer.example', 'Customer', 'new' FROM organizations"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let c = app.login(email).await;
    let lead = lead.to_string();
    let r = c
        .post(
            "/messages",
            &[
                ("lead_id", lead.as_str()),
                ("template_id", "00000000-0000-7000-8000-000000000001"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "send: {}", r.body);
    let delivered = lead_dashboard::jobs::mail::deliver_due(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        &app.state.config,
        app.now(),
    )
    .unwrap();
    assert_eq!(delivered, 1, "the message was delivered");
}

/// Lea's answer, written `at`, to the mail with `message_id` (brackets included).
fn lea_replies(message_id: &str, at: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    format!(
        "From: Lea Test <lea@customer.example>\r\nTo: olivia@sales.example\r\n\
Subject: Re: Quick question\r\nDate: {}\r\n\
Message-ID: <lea-1@customer.example>\r\nIn-Reply-To: {message_id}\r\n\
References: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{REPLY}\r\n",
        at.to_rfc2822()
    )
    .into_bytes()
}

/// The value of header `name` in a mail as the sink stored it.
fn header(mail: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}: ");
    mail.lines()
        .find(|l| l.starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
}

/// One pass of the inbox job with every mailbox due.
async fn read_inboxes(app: &TestApp) {
    use diesel::RunQueryDsl;
    diesel::sql_query("UPDATE mailbox_states SET next_poll_at = '2000-01-01T00:00:00Z'")
        .execute(&mut app.conn())
        .unwrap();
    let state = app.state.clone();
    let now = app.now();
    let read = actix_web::web::block(move || {
        let access = SystemAccess::grant_at_startup();
        lead_dashboard::jobs::inbox::run(&state.db, &access, &state.config, now).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(read, 1, "one mailbox read");
}

#[actix_web::test]
async fn connect_a_mailbox_and_read_a_reply_on_the_desktop() {
    mailbox_flow(1280, true).await;
}

#[actix_web::test]
async fn connect_a_mailbox_and_read_a_reply_on_the_desktop_without_javascript() {
    mailbox_flow(1280, false).await;
}

#[actix_web::test]
async fn connect_a_mailbox_and_read_a_reply_on_a_phone() {
    mailbox_flow(390, true).await;
}

#[actix_web::test]
async fn connect_a_mailbox_and_read_a_reply_on_a_phone_without_javascript() {
    mailbox_flow(390, false).await;
}
