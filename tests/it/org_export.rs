//! The organization export archive: an owner asks for it, the job writes the
//! ZIP, the owner downloads it. The archive is opened with the `zip` crate:
//! every JSON file parses and holds exactly the organization's rows, nothing
//! of another organization and no secret. Also: one export at a time, owners
//! only, foreign ids 404, expired files 410 and deleted, flat memory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor, Read};

use chrono::Duration;
use diesel::connection::SimpleConnection;
use lead_dashboard::db::SystemAccess;
use uuid::Uuid;

use crate::common::{uuid_of, Client, TestApp};
use crate::row_security::fill_organization;
use crate::team::support::{join, org_id, text};

/// Recognisable secret values planted in organization 1 (hex of bytea hashes).
const KEY_HASH_HEX: &str = "deadbeefcafe0001";
const INVITE_HASH_HEX: &str = "deadbeefcafe0002";
const PASSWORD_HASH: &str = "argon2-sentinel-password-hash";

/// Archive files and the query counting the same rows of organization `{org}`.
const FILES: [(&str, &str); 21] = [
    ("organization.json", "organizations WHERE id = '{org}'"),
    (
        "subscription.json",
        "subscriptions WHERE organization_id = '{org}'",
    ),
    (
        "members.json",
        "organization_members WHERE organization_id = '{org}'",
    ),
    (
        "invitations.json",
        "invitations WHERE organization_id = '{org}'",
    ),
    ("leads.json", "leads WHERE organization_id = '{org}'"),
    (
        "lead_status_history.json",
        "lead_status_changes WHERE organization_id = '{org}'",
    ),
    (
        "lead_edits.json",
        "lead_edits WHERE organization_id = '{org}'",
    ),
    (
        "templates.json",
        "message_templates WHERE organization_id = '{org}'",
    ),
    (
        "sequences.json",
        "sequences WHERE organization_id = '{org}'",
    ),
    (
        "sequence_steps.json",
        "sequence_steps WHERE organization_id = '{org}'",
    ),
    (
        "enrollments.json",
        "sequence_enrollments WHERE organization_id = '{org}'",
    ),
    ("messages.json", "messages WHERE organization_id = '{org}'"),
    (
        "replies.json",
        "inbound_messages WHERE organization_id = '{org}'",
    ),
    (
        "mailboxes.json",
        "mailboxes WHERE organization_id = '{org}'",
    ),
    (
        "usage_counters.json",
        "usage_counters WHERE organization_id = '{org}'",
    ),
    ("invoices.json", "invoices WHERE organization_id = '{org}'"),
    (
        "invoice_lines.json",
        "invoice_lines WHERE organization_id = '{org}'",
    ),
    (
        "audit_log.json",
        "audit_events WHERE organization_id = '{org}'",
    ),
    ("api_keys.json", "api_keys WHERE organization_id = '{org}'"),
    (
        "webhook_endpoints.json",
        "webhook_endpoints WHERE organization_id = '{org}'",
    ),
    (
        "suppressions.json",
        "suppressions WHERE organization_id = '{org}'",
    ),
];

/// Organizations `org-1` (Ann is an OWNER) and `org-2`, each with a row in
/// every tenant table, and `more` SQL run for `org-1` (`{org}`) before Ann
/// is switched into it.
async fn two_organizations_with(app: &TestApp, more: &str) -> (Client, Uuid, Uuid) {
    let (one, two) = (Uuid::new_v4(), Uuid::new_v4());
    {
        let mut conn = app.conn();
        fill_organization(&mut conn, one, 1);
        fill_organization(&mut conn, two, 2);
        conn.batch_execute(&format!(
            "UPDATE api_keys SET key_hash = '\\x{KEY_HASH_HEX}' WHERE organization_id = '{one}';
             UPDATE invitations SET token_hash = '\\x{INVITE_HASH_HEX}' WHERE organization_id = '{one}';
             UPDATE users SET password_hash = '{PASSWORD_HASH}' WHERE email = 'u1@example.com';"
        ))
        .unwrap();
        if !more.is_empty() {
            conn.batch_execute(&more.replace("{org}", &one.to_string()))
                .unwrap();
        }
    }
    let ann = join(app, "org-1", "Ann", "ann@example.com", "OWNER").await;
    (ann, one, two)
}

async fn two_organizations(app: &TestApp) -> (Client, Uuid, Uuid) {
    two_organizations_with(app, "").await
}

fn run_job(app: &TestApp) -> usize {
    lead_dashboard::jobs::org_export::run(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        &app.state.config,
        app.now(),
    )
    .expect("export job")
}

/// Asks for an export as `c` and returns its id.
async fn request(app: &TestApp, c: &Client, org: Uuid) -> Uuid {
    c.get("/settings").await;
    let r = c.post("/settings/export", &[]).await;
    assert_eq!(r.status, 303, "export requested: {}", r.body);
    uuid_of(
        &mut app.conn(),
        &format!(
            "SELECT id FROM org_exports WHERE organization_id = '{org}' AND status = 'queued'"
        ),
    )
}

/// Every entry of the archive as text.
fn entries(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a ZIP archive");
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).expect("UTF-8 entry");
        out.insert(f.name().unwrap().to_string(), s);
    }
    out
}

#[actix_web::test]
async fn the_archive_holds_every_row_of_the_organization_and_nothing_else() {
    let app = TestApp::new().await;
    let (ann, one, two) = two_organizations(&app).await;
    let id = request(&app, &ann, one).await;
    assert_eq!(
        text(&app, &format!("SELECT action FROM audit_events WHERE organization_id = '{one}' ORDER BY id DESC LIMIT 1")),
        "export.requested"
    );
    assert!(ann
        .get("/settings")
        .await
        .body
        .contains("Preparing the export"));
    assert!(run_job(&app) >= 1);

    let page = ann.get("/settings").await.body;
    let link = format!("/settings/export/{id}");
    assert!(page.contains(&link), "the settings card links the download");
    let (status, headers, bytes) = ann.get_bytes(&link).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "application/zip");
    let disposition = headers
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");

    let files = entries(&bytes);
    for (file, from) in FILES {
        let doc: serde_json::Value = serde_json::from_str(&files[file])
            .unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        let rows = doc
            .as_array()
            .unwrap_or_else(|| panic!("{file} is an array"));
        let expected = app.count(&format!(
            "SELECT count(*) FROM {}",
            from.replace("{org}", &one.to_string())
        ));
        assert!(expected >= 1, "the fixture has rows for {file}");
        assert_eq!(rows.len() as i64, expected, "rows of {file}");
    }
    assert!(
        files["members.json"].contains("ann@example.com"),
        "members carry their email"
    );
    assert!(files["leads.csv"].starts_with("first_name,"));
    assert!(files["leads.csv"].contains("l1@example.com"));
    assert!(files["messages.csv"].contains("l1@example.com"));
    for file in FILES
        .map(|(f, _)| f)
        .iter()
        .chain(&["leads.csv", "messages.csv"])
    {
        assert!(
            files["README.txt"].contains(file),
            "README describes {file}"
        );
    }

    let all: String = files.values().cloned().collect();
    assert!(
        !all.contains("whsec_"),
        "no webhook signing secret in the archive"
    );
    assert!(
        files["mailboxes.json"].contains("smtp.example.com")
            && !files["mailboxes.json"].contains("password"),
        "mailboxes are exported without their passwords"
    );
    let ann_own = org_id(&app, "ann-s-organization");
    for foreign in [
        two.to_string(),
        ann_own.to_string(),
        "org-2".into(),
        "u2@example.com".into(),
        "l2@example.com".into(),
        "i2@example.com".into(),
        "pre2".into(),
        "T-2".into(),
    ] {
        assert!(
            !all.contains(&foreign),
            "another organization's {foreign} is in the archive"
        );
    }
    for secret in [
        KEY_HASH_HEX,
        INVITE_HASH_HEX,
        PASSWORD_HASH,
        "\\\\x",
        "token_hash",
        "key_hash",
        "password_hash",
        "request_hash",
        "csrf_token",
    ] {
        assert!(!all.contains(secret), "the archive holds {secret}");
    }

    // The requester is told: a notice and a mail with the link.
    let user = crate::team::support::user_id(&app, "ann@example.com");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM notices WHERE organization_id = '{one}' AND user_id = '{user}' AND kind = 'export_ready'")),
        1
    );
    let mail = text(&app, "SELECT body_text FROM mail_outbox WHERE to_email = 'ann@example.com' AND subject LIKE '%export%'");
    assert!(mail.contains(&link), "the mail links the download: {mail}");
}

#[actix_web::test]
async fn one_export_at_a_time_and_owners_only() {
    let app = TestApp::new().await;
    let (ann, one, two) = two_organizations(&app).await;
    request(&app, &ann, one).await;
    let before = app.count(&format!(
        "SELECT count(*) FROM org_exports WHERE organization_id = '{one}'"
    ));
    let again = ann.post("/settings/export", &[]).await;
    assert_eq!(again.status, 409);
    assert!(
        again.body.contains("An export is already being prepared"),
        "{}",
        again.body
    );
    let after = app.count(&format!(
        "SELECT count(*) FROM org_exports WHERE organization_id = '{one}'"
    ));
    assert_eq!(after, before, "the refused request changed nothing");

    // The download of an export still being prepared is refused, not served.
    let queued = text(&app, &format!("SELECT id::text FROM org_exports WHERE organization_id = '{one}' AND status = 'queued'"));
    assert_eq!(
        ann.get(&format!("/settings/export/{queued}")).await.status,
        409
    );

    // Another organization's export: 404, as is a malformed id.
    let foreign = text(
        &app,
        &format!("SELECT id::text FROM org_exports WHERE organization_id = '{two}'"),
    );
    assert_eq!(
        ann.get(&format!("/settings/export/{foreign}")).await.status,
        404
    );
    assert_eq!(ann.get("/settings/export/not-an-id").await.status, 404);

    // An ADMIN may neither ask nor download, and sees no export card.
    let bob = join(&app, "org-1", "Bob", "bob@example.com", "ADMIN").await;
    let settings = bob.get("/settings").await;
    assert!(!settings.body.contains("Export all data"));
    assert_eq!(bob.post("/settings/export", &[]).await.status, 403);
    assert_eq!(
        bob.get(&format!("/settings/export/{queued}")).await.status,
        403
    );
    let after_admin = app.count(&format!(
        "SELECT count(*) FROM org_exports WHERE organization_id = '{one}'"
    ));
    assert_eq!(after_admin, before);

    // Once written, a new export may be asked for.
    run_job(&app);
    assert_eq!(ann.post("/settings/export", &[]).await.status, 303);
}

#[actix_web::test]
async fn an_expired_export_answers_410_and_its_file_is_deleted() {
    let app = TestApp::new().await;
    let (ann, one, _) = two_organizations(&app).await;
    let id = request(&app, &ann, one).await;
    run_job(&app);
    let state = text(
        &app,
        &format!("SELECT status || ' ' || coalesce(error, '') FROM org_exports WHERE id = '{id}'"),
    );
    assert_eq!(state.trim(), "ready");
    let path = text(
        &app,
        &format!("SELECT file_path FROM org_exports WHERE id = '{id}'"),
    );
    assert!(std::path::Path::new(&path).exists());
    let link = format!("/settings/export/{id}");
    assert_eq!(ann.get_bytes(&link).await.0, 200);
    let kept = format!("SELECT count(*) FROM org_exports WHERE id = '{id}' AND expires_at = finished_at + interval '7 days'");
    assert_eq!(app.count(&kept), 1, "kept for 7 days");

    // The seventh day has passed (moved in the row: sessions do not last a week).
    let past = (app.now() - Duration::seconds(1)).to_rfc3339();
    app.conn()
        .batch_execute(&format!(
            "UPDATE org_exports SET expires_at = '{past}' WHERE id = '{id}'"
        ))
        .unwrap();
    let gone = ann.get(&link).await;
    assert_eq!(gone.status, 410);
    assert!(gone.body.contains("This export has expired"));
    assert!(run_job(&app) >= 1);
    assert!(
        !std::path::Path::new(&path).exists(),
        "the job deleted the file"
    );
    assert_eq!(ann.get(&link).await.status, 410);
    assert!(ann.get("/settings").await.body.contains("has expired"));
}

/// Peak resident memory of this process so far, in kB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Set in the child process that measures memory on its own.
const MEMORY_CHILD: &str = "LD_EXPORT_MEMORY_CHILD";

/// The peak resident memory of a process is the whole process's: other
/// tests running beside this one would count. So the test runs itself again
/// in a child process of its own (`--exact`, one thread), where the export
/// is the only work, and that child measures and asserts.
#[actix_web::test]
async fn a_large_organization_exports_with_flat_memory() {
    if std::env::var_os(MEMORY_CHILD).is_some() {
        return large_export_in_this_process().await;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "org_export::a_large_organization_exports_with_flat_memory",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MEMORY_CHILD, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the measuring child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn large_export_in_this_process() {
    let app = TestApp::new().await;
    let bulk = "INSERT INTO leads (organization_id, id, first_name, last_name, email, company, notes)
        SELECT '{org}', gen_random_uuid(), 'First ' || g, 'Last ' || g, 'bulk' || g || '@example.com',
               'Company ' || (g % 500), repeat('note ', 20)
        FROM generate_series(1, 100000) g";
    let (ann, one, _) = two_organizations_with(&app, bulk).await;
    let id = request(&app, &ann, one).await;
    let before = peak_rss_kb();
    run_job(&app);
    let grown_mb = (peak_rss_kb() - before) / 1024;
    println!("org export of 100,001 leads: peak RSS grew by {grown_mb} MB");
    assert!(grown_mb < 100, "peak RSS grew by {grown_mb} MB");

    let path = text(
        &app,
        &format!("SELECT file_path FROM org_exports WHERE id = '{id}' AND status = 'ready'"),
    );
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let leads = BufReader::new(zip.by_name("leads.json").unwrap())
        .lines()
        .filter(|l| l.as_ref().unwrap().starts_with('{'))
        .count();
    assert_eq!(leads, 100_001);
    let csv_rows = BufReader::new(zip.by_name("leads.csv").unwrap())
        .lines()
        .count();
    assert_eq!(csv_rows, 100_002, "a header and every lead");
}

#[actix_web::test]
async fn three_exports_a_day_then_a_clear_refusal() {
    let app = TestApp::new().await;
    let (ann, one, _) = two_organizations(&app).await;
    // The fixture's own export row is from long ago.
    app.conn()
        .batch_execute("UPDATE org_exports SET created_at = created_at - interval '2 days'")
        .unwrap();
    for _ in 0..3 {
        request(&app, &ann, one).await;
        run_job(&app);
    }
    let count = format!("SELECT count(*) FROM org_exports WHERE organization_id = '{one}'");
    let before = app.count(&count);
    let r = ann.post("/settings/export", &[]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("3 exports a day") && r.body.contains("UTC"),
        "{}",
        r.body
    );
    assert_eq!(app.count(&count), before, "the refusal changed nothing");
    // A day later (moved in the rows), one may be asked for again.
    app.conn()
        .batch_execute(&format!(
            "UPDATE org_exports SET created_at = created_at - interval '25 hours' \
             WHERE organization_id = '{one}'"
        ))
        .unwrap();
    assert_eq!(ann.post("/settings/export", &[]).await.status, 303);
}

#[actix_web::test]
async fn erasing_an_organization_deletes_its_archives_first() {
    let app = TestApp::new().await;
    let (ann, one, _) = two_organizations(&app).await;
    let id = request(&app, &ann, one).await;
    run_job(&app);
    let path = text(
        &app,
        &format!("SELECT file_path FROM org_exports WHERE id = '{id}'"),
    );
    assert!(std::path::Path::new(&path).exists());
    // The deletion date has come (a minute ago).
    app.conn()
        .batch_execute(&format!(
            "UPDATE organizations SET deletion_scheduled_at = '{}' WHERE id = '{one}'",
            (app.now() - Duration::minutes(1)).to_rfc3339()
        ))
        .unwrap();
    lead_dashboard::jobs::org_deletion::run(
        &mut app.conn(),
        &SystemAccess::grant_at_startup(),
        &app.state.config,
        app.now(),
    )
    .expect("erasure job");
    assert!(
        !std::path::Path::new(&path).exists(),
        "the archive went before its rows"
    );
}
