//! CSV export of hostile cells: nothing a spreadsheet would run as a
//! formula, and the file still imports back to the same leads.

use crate::common::{Client, Resp, TestApp};
use crate::workspace_support::owner;

const BOUNDARY: &str = "----ld-edge-boundary";

/// (first_name, company, title, phone, notes) of the leads created.
const HOSTILE: &[[&str; 5]] = &[
    [
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "@SUM(1+1)",
        "-2+3",
        "+49 30 1234567",
        "=cmd|' /C calc'!A0",
    ],
    ["Plain", "+Acme", "@boss", "-", "Harmless note"],
];

async fn upload(c: &Client, file: &[u8]) -> Resp {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let path = format!("/leads/import?csrf_token={}", c.csrf_token());
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    c.post_body(&path, &ct, body, &[]).await
}

/// Every cell of the export, header excluded.
fn cells(csv_text: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(csv_text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn stored(app: &TestApp, slug: &str) -> Vec<[String; 5]> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct L {
        #[diesel(sql_type = diesel::sql_types::Text)]
        first_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        company: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        title: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        phone: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        notes: String,
    }
    diesel::sql_query(format!(
        "SELECT l.first_name, l.company, l.title, l.phone, l.notes FROM leads l \
         JOIN organizations o ON o.id = l.organization_id WHERE o.slug = '{slug}' \
         ORDER BY l.email"
    ))
    .load::<L>(&mut app.conn())
    .unwrap()
    .into_iter()
    .map(|l| [l.first_name, l.company, l.title, l.phone, l.notes])
    .collect()
}

#[actix_web::test]
async fn hostile_cells_are_neutralised_and_the_export_imports_back() {
    let app = TestApp::new().await;
    let c = owner(&app).await;
    for (i, [first, company, title, phone, notes]) in HOSTILE.iter().enumerate() {
        let email = format!("lead{i}@x.example");
        let r = c
            .post(
                "/leads",
                &[
                    ("first_name", *first),
                    ("last_name", "Doe"),
                    ("email", &email),
                    ("company", *company),
                    ("title", *title),
                    ("phone", *phone),
                    ("status", "new"),
                    ("tags", "-x, y"),
                    ("notes", *notes),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{first}: {}", r.body);
    }
    let original = stored(&app, "owen-s-organization");
    assert_eq!(original.len(), HOSTILE.len());

    let export = c.get("/leads/export").await;
    assert_eq!(export.status, 200);
    let rows = cells(&export.body);
    assert_eq!(rows.len(), HOSTILE.len());
    for cell in rows.iter().flatten() {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{cell:?} would run as a formula"
        );
    }
    assert!(export.body.contains("'=HYPERLINK("), "{}", export.body);
    assert!(export.body.contains("'@SUM(1+1)"));

    // Another organization imports the file as exported.
    let other = app.signup("Ida", "ida@example.com").await;
    app.verify_email("ida@example.com");
    other.get("/leads/import").await;
    let preview = upload(&other, export.body.as_bytes()).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let n = HOSTILE.len();
    assert!(
        preview
            .body
            .contains(&format!("<strong>{n}</strong> of {n} rows can be imported")),
        "{}",
        preview.body
    );
    let id = regex::Regex::new(r#"/leads/import/([0-9a-f-]{36})"#)
        .unwrap()
        .captures(&preview.body)
        .expect("import form")[1]
        .to_string();
    let report = other.post(&format!("/leads/import/{id}"), &[]).await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert_eq!(
        stored(&app, "ida-s-organization"),
        original,
        "the round trip changes nothing"
    );
}
