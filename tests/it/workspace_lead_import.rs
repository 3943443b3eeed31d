//! CSV import and export: per-row problems with line numbers (malformed,
//! wrong encoding, duplicates in the file and against the database), a
//! 10,000-row file, the monthly limit stopping an import with exact counts,
//! oversize uploads, roles, other organizations' uploads, streamed export.

use crate::common::{Client, Resp, TestApp};
use crate::workspace_support::*;

const BOUNDARY: &str = "----ld-test-boundary";

fn multipart(file: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Uploads like a browser without JavaScript (token in the query string).
pub(crate) async fn upload(c: &Client, file: &[u8]) -> Resp {
    let path = format!("/leads/import?csrf_token={}", c.csrf_token());
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    c.post_body(&path, &ct, multipart(file), &[]).await
}

/// Uploads as HTMX does (token in the header, fragment expected).
async fn upload_htmx(c: &Client, file: &[u8]) -> Resp {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let token = c.csrf_token();
    c.post_body(
        "/leads/import",
        &ct,
        multipart(file),
        &[("HX-Request", "true"), ("X-CSRF-Token", &token)],
    )
    .await
}

pub(crate) fn upload_id(preview: &Resp) -> String {
    let re = regex::Regex::new(r#"/leads/import/([0-9a-f-]{36})"#).unwrap();
    re.captures(&preview.body)
        .expect("import form in the preview")[1]
        .to_string()
}

fn rows(n: usize, from: usize) -> String {
    let mut s = String::from("first_name,last_name,email,company,status,tags\n");
    for i in from..from + n {
        s.push_str(&format!("First{i},Last,lead{i}@x.example,Co {i},new,a;b\n"));
    }
    s
}

#[actix_web::test]
async fn bad_rows_are_reported_with_line_and_reason_and_skipped() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    insert_lead(&app, OWNER_SLUG, "Old", "old@x.example");
    let mut file = b"Email,First_Name,Company,Tags\n".to_vec();
    file.extend_from_slice(b"ann@x.example,Ann,Acme,vip;berlin\n"); // 2 ok
    file.extend_from_slice(b"not-an-email,Bad,Acme,\n"); // 3 bad email
    file.extend_from_slice(b"nofirst@x.example,,Acme,\n"); // 4 missing field
    file.extend_from_slice(b"short@x.example,Short\n"); // 5 wrong field count
    file.extend_from_slice(b"m@x.example,M\xfcller,Acme,\n"); // 6 Latin-1
    file.extend_from_slice(b"ANN@x.example,Ann again,Acme,\n"); // 7 duplicate in file
    file.extend_from_slice(b"old@x.example,Old,Acme,\n"); // 8 duplicate in database
    file.extend_from_slice(b"\"Quoted, Inc\"@x.example,Q,Acme,\n"); // 9 bad email (quoted comma)
    file.extend_from_slice(b"bo@x.example,\"Bo\nMultiline\",Acme,\n"); // 10 name on two lines
    file.extend_from_slice(b"cy@x.example,Cy,\"Cy & Co\",\n"); // 12 ok
    let preview = upload(&c, &file).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("<html"));
    assert!(
        preview
            .body
            .contains("<strong>2</strong> of 10 rows can be imported"),
        "{}",
        preview.body
    );
    for expected in [
        "Line 3: Enter a valid email",
        "Line 4: first_name is missing",
        "Line 5: has 2 fields, the header has 4",
        "Line 6: is not valid UTF-8",
        "Line 7: duplicate of line 2",
        "Line 8: already a lead in your organization",
        "Line 10: First name must be on one line",
    ] {
        assert!(preview.body.contains(expected), "{expected}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM leads"),
        1,
        "a preview imports nothing"
    );
    let id = upload_id(&preview);
    let report = c.post(&format!("/leads/import/{id}"), &[]).await;
    assert_eq!(report.status, 200);
    assert!(report.body.contains("Imported 2 leads."));
    assert!(report.body.contains("8 rows are skipped") && report.body.contains("Line 6:"));
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE email IN ('ann@x.example', 'cy@x.example')"),
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE tags = '{vip,berlin}'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'lead_created'"),
        2
    );
    // The same upload cannot be imported twice.
    assert_eq!(
        c.post(&format!("/leads/import/{id}"), &[]).await.status,
        404
    );
    assert_eq!(app.count("SELECT count(*) FROM leads"), 3);
}

#[actix_web::test]
async fn whole_file_problems_are_clear_and_change_nothing() {
    let app = TestApp::with_config(|c| c.max_upload_bytes = 2_000).await;
    let c = owner(&app).await;
    c.get("/leads/import").await;
    let r = upload_htmx(&c, b"").await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("The file is empty") && !r.body.contains("<html"));
    let r = upload(&c, b"name,mail\nA,a@x.example\n").await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("no “email” column"));
    let r = upload(&c, b"first_name,\xe9mail\nA,a@x.example\n").await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("not UTF-8"));
    let r = upload(&c, rows(100, 0).as_bytes()).await;
    assert_eq!(r.status, 413);
    assert!(r.body.contains("larger than"), "{}", r.body);
    assert_eq!(app.count("SELECT count(*) FROM lead_imports"), 0);
    assert_eq!(app.count("SELECT count(*) FROM leads"), 0);
}

#[actix_web::test]
async fn a_ten_thousand_row_file_imports_completely() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    let file = rows(10_000, 0);
    let preview = upload_htmx(&c, file.as_bytes()).await;
    assert_eq!(preview.status, 200);
    assert!(preview
        .body
        .contains("<strong>10000</strong> of 10000 rows can be imported"));
    let id = upload_id(&preview);
    let r = c.post_htmx(&format!("/leads/import/{id}"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("hx-trigger"), Some("usage-changed"));
    assert!(r.body.contains("Imported 10000 leads."));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 10_000);
    assert_eq!(
        app.count("SELECT count(*) FROM usage_records WHERE kind = 'lead_created'"),
        10_000
    );
    assert_eq!(
        app.count(
            "SELECT count FROM usage_counters WHERE kind = 'lead_created' AND period = 'month'"
        ),
        10_000
    );
}

#[actix_web::test]
async fn the_monthly_limit_stops_an_import_with_exact_counts() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    // FREE: 50 leads a month; 10 are used already.
    for i in 0..10 {
        let email = format!("pre{i}@x.example");
        assert_eq!(
            c.post("/leads", &[("first_name", "Pre"), ("email", &email)])
                .await
                .status,
            303
        );
    }
    let preview = upload(&c, rows(60, 0).as_bytes()).await;
    assert!(
        preview.body.contains("Only 40 more leads fit"),
        "{}",
        preview.body
    );
    let id = upload_id(&preview);
    let r = c.post(&format!("/leads/import/{id}"), &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Imported 40 leads."));
    assert!(r.body.contains("40 imported, 20 left") && r.body.contains("href=\"/plans\""));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 50);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE email = 'lead39@x.example'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE email = 'lead40@x.example'"),
        0,
        "file order kept"
    );
    assert_eq!(app.count("SELECT count(*) FROM usage_records"), 50);
    assert_eq!(
        app.count("SELECT count(*) FROM notices WHERE kind = 'limit_reached'"),
        1,
        "the import that fills the limit tells the owner once"
    );
    // At the limit nothing more goes in.
    let id = upload_id(&upload(&c, rows(5, 100).as_bytes()).await);
    let r = c.post(&format!("/leads/import/{id}"), &[]).await;
    assert!(r.body.contains("Imported 0 leads.") && r.body.contains("0 imported, 5 left"));
    assert_eq!(app.count("SELECT count(*) FROM leads"), 50);
}

#[actix_web::test]
async fn roles_decide_who_imports_and_everyone_exports() {
    let app = TestApp::new().await;
    let o = owner(&app).await;
    set_plan(&app, OWNER_SLUG, "ENTERPRISE");
    let owner_upload = upload_id(&upload(&o, rows(1, 0).as_bytes()).await);
    for (i, (who, c, allowed)) in role_matrix(&app, 0).await.into_iter().enumerate() {
        assert_eq!(
            c.get("/leads/import").await.status,
            if allowed { 200 } else { 403 },
            "{who}"
        );
        let before = app.count("SELECT count(*) FROM lead_imports");
        let r = upload(&c, rows(1, 10 + i).as_bytes()).await;
        assert_eq!(r.status, if allowed { 200 } else { 403 }, "{who} uploads");
        assert_eq!(
            app.count("SELECT count(*) FROM lead_imports"),
            before + i64::from(allowed)
        );
        if !allowed {
            let r = c.post(&format!("/leads/import/{owner_upload}"), &[]).await;
            assert_eq!(r.status, 403, "{who} imports");
        }
        let r = c.get("/leads/export").await;
        assert_eq!(r.status, 200, "{who} exports");
    }
    assert_eq!(app.count("SELECT count(*) FROM leads"), 0);
}

#[actix_web::test]
async fn another_organizations_upload_is_not_found() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let bob = app.signup("Bob", "bob@example.com").await;
    bob.get("/leads/import").await;
    let theirs = upload_id(&upload(&bob, rows(3, 0).as_bytes()).await);
    assert_eq!(
        c.post(&format!("/leads/import/{theirs}"), &[]).await.status,
        404
    );
    assert_eq!(app.count("SELECT count(*) FROM leads"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM lead_imports"),
        1,
        "their upload is untouched"
    );
    assert_eq!(c.post("/leads/import/not-a-uuid", &[]).await.status, 404);
    // An expired upload is gone for its owner too.
    exec(
        &app,
        "UPDATE lead_imports SET expires_at = now() - interval '1 minute'",
    );
    assert_eq!(
        bob.post(&format!("/leads/import/{theirs}"), &[])
            .await
            .status,
        404
    );
    assert_eq!(app.count("SELECT count(*) FROM leads"), 0);
    let mut conn = app.conn();
    assert_eq!(
        lead_dashboard::db::lead_import::purge_expired(&mut conn, app.now()).unwrap(),
        1
    );
}

#[actix_web::test]
async fn export_streams_the_current_filter_as_csv() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let org = org_id(&app, OWNER_SLUG);
    exec(
        &app,
        &format!(
            "INSERT INTO leads (organization_id, id, first_name, email, company, status, tags, notes, created_at) \
             SELECT '{org}', gen_random_uuid(), 'F' || i, 'e' || i || '@x.example', 'Co, \"quoted\"', \
                    CASE WHEN i % 4 = 0 THEN 'lost' ELSE 'new' END, ARRAY['a','b'], 'line1\nline2', now() - i * interval '1 second' \
             FROM generate_series(1, 2500) AS i"
        ),
    );
    app.signup("Bob", "bob@example.com").await;
    insert_lead(&app, "bob-s-organization", "Zed", "zed@x.example");
    let r = c.get("/leads/export").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    assert!(r
        .header("content-disposition")
        .unwrap()
        .contains("leads.csv"));
    let mut reader = csv::Reader::from_reader(r.body.as_bytes());
    assert_eq!(&reader.headers().unwrap()[2], "email");
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(
        records.len(),
        2500,
        "every lead across batches, none of Bob's"
    );
    assert_eq!(&records[0][3], "Co, \"quoted\"");
    assert_eq!(&records[0][7], "a;b");
    assert_eq!(&records[0][8], "line1\nline2");
    let r = c.get("/leads/export?status=lost&q=e1").await;
    let n = csv::Reader::from_reader(r.body.as_bytes())
        .records()
        .count();
    let expected = app.count(&format!(
        "SELECT count(*) FROM leads WHERE organization_id = '{org}' AND status = 'lost' AND email LIKE '%e1%'"
    ));
    assert_eq!(n as i64, expected);
    assert!(n > 0);
}

#[actix_web::test]
async fn the_time_zone_column_is_imported_checked_and_exported() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    let file = b"first_name,email,time_zone\nAnn,ann@x.example,Europe/Berlin\nBo,bo@x.example,\nCy,cy@x.example,Mars/Olympus\n";
    let preview = upload(&c, file).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview.body.contains("Line 4:") && preview.body.contains("not a known time zone"),
        "{}",
        preview.body
    );
    let id = upload_id(&preview);
    let report = c.post(&format!("/leads/import/{id}"), &[]).await;
    assert!(report.body.contains("Imported 2 leads."), "{}", report.body);
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE email = 'ann@x.example' AND time_zone = 'Europe/Berlin'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE email = 'bo@x.example' AND time_zone IS NULL"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE email = 'cy@x.example'"),
        0
    );
    let r = c.get("/leads/export").await;
    let mut reader = csv::Reader::from_reader(r.body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let zone = headers
        .iter()
        .position(|h| h == "time_zone")
        .expect("a time_zone column");
    let email = headers.iter().position(|h| h == "email").unwrap();
    let zones: Vec<(String, String)> = reader
        .records()
        .map(|r| r.unwrap())
        .map(|r| (r[email].to_string(), r[zone].to_string()))
        .collect();
    assert!(
        zones.contains(&("ann@x.example".into(), "Europe/Berlin".into())),
        "{zones:?}"
    );
    assert!(
        zones.contains(&("bo@x.example".into(), String::new())),
        "{zones:?}"
    );
}
