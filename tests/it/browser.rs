//! Flows in a real browser: Debian's Chromium driven by Playwright
//! (tests/browser/steps.mjs), one process per step, cookies kept between
//! steps like a returning user. Each flow runs against a real server on its
//! own database, with JavaScript (htmx) and without it (plain forms).
//! Screenshots of each final state land in target/browser-shots/.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{TestApp, PASSWORD};

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
