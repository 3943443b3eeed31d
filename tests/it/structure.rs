//! The layout rules that the compiler cannot check on its own, read from the
//! source: the tenant filter is written only in scoped bases, the schema
//! stays private to `db`, route modules do not import each other and are all
//! listed for serving, the system capability never reaches a handler,
//! nothing but `clock.rs` reads the wall clock, and rustfmt has formatted
//! every file.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The name of the function a line belongs to: the nearest `fn name` above it.
fn enclosing_fn(lines: &[&str], index: usize) -> Option<String> {
    lines[..=index].iter().rev().find_map(|line| {
        let rest = line.split("fn ").nth(1)?;
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty() && !line.trim_start().starts_with("//")).then_some(name)
    })
}

/// `a::organization_id.eq(b::organization_id)` or `.eq(b::id)`: a join
/// condition between two tables, not a filter by a value.
fn is_join_condition(after_eq: &str) -> bool {
    let arg: String = after_eq.chars().take_while(|c| *c != ')').collect();
    let arg = arg.trim();
    arg.split("::").count() == 2
        && (arg.ends_with("::organization_id") || arg.ends_with("::id"))
        && arg
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ':')
}

/// Places that filter by organization outside a `scoped…` base function.
fn unscoped_tenant_filters(path: &Path, text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        // A composite-key lookup by the tenant's organization is a tenant
        // filter too (`table.find((tenant.org_id(), id))`).
        if line.contains(".find((tenant.org_id()") {
            found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
        }
        for (at, _) in line.match_indices("organization_id.eq(") {
            let after = &line[at + "organization_id.eq(".len()..];
            let in_scoped = enclosing_fn(&lines, i).is_some_and(|f| f.starts_with("scoped"));
            if !in_scoped && !is_join_condition(after) {
                found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn tenant_filters_are_written_only_in_scoped_bases() {
    let found: Vec<String> = rust_files(&src())
        .iter()
        .flat_map(|p| unscoped_tenant_filters(p, &fs::read_to_string(p).unwrap()))
        .collect();
    assert!(
        found.is_empty(),
        "filter tenant rows through the module's scoped base:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_unscoped_filter_check_can_fail() {
    let text = "fn list(t: &Tenant) {\n    leads::table.filter(leads::organization_id.eq(org))\n}\n\
                fn scoped(t: &Tenant) {\n    leads::table.filter(leads::organization_id.eq(t.org_id()))\n}\n\
                fn join() {\n    a.on(m::organization_id.eq(organizations::id))\n}\n\
                fn find(t: &Tenant) {\n    invoices::table.find((tenant.org_id(), id))\n}\n";
    let found = unscoped_tenant_filters(Path::new("x.rs"), text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("x.rs:2:"));
    assert!(found[1].starts_with("x.rs:11:"));
}

#[test]
fn the_schema_is_private_to_db() {
    let db_mod = fs::read_to_string(src().join("db/mod.rs")).unwrap();
    assert!(
        !db_mod
            .lines()
            .any(|l| l.trim_start().starts_with("pub") && l.contains("mod schema")),
        "db::schema must not be public"
    );
    let outside: Vec<String> = rust_files(&src())
        .into_iter()
        .filter(|p| !p.starts_with(src().join("db")))
        .filter(|p| fs::read_to_string(p).unwrap().contains("schema::"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(outside.is_empty(), "schema used outside db: {outside:?}");
}

/// The route modules named after `routes::` in `text` (`routes::a::x`,
/// `routes::{a, b::c, helper}`), filtered to those in `modules`.
fn named_route_modules(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for (at, _) in text.match_indices("routes::") {
        let rest = &text[at + "routes::".len()..];
        let first_level: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                    _ if depth == 0 => item.push(c),
                    _ => {}
                }
            }
            items.push(item);
            items
        } else {
            vec![rest.to_string()]
        };
        for item in first_level {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&name) {
                named.insert(name);
            }
        }
    }
    named
}

/// `text` without its comment lines (docs may name other modules).
fn code_only(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn route_modules_do_not_import_each_other() {
    let dir = src().join("routes");
    let files: Vec<PathBuf> = rust_files(&dir)
        .into_iter()
        .filter(|p| p.file_name().unwrap() != "mod.rs")
        .collect();
    let modules: BTreeSet<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut found = Vec::new();
    for path in &files {
        let me = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = code_only(&fs::read_to_string(path).unwrap());
        let mut named = named_route_modules(&text, &modules);
        named.remove(&me);
        if !named.is_empty() {
            found.push(format!("{me} imports {named:?}"));
        }
    }
    assert!(
        found.is_empty(),
        "route modules importing others: {found:?}"
    );
}

#[test]
fn the_import_check_can_fail() {
    let modules: BTreeSet<String> = ["leads", "sequences"].map(String::from).into();
    let text = "use crate::routes::{page, leads::parse_filter};\nuse crate::routes::sequences;";
    let named = named_route_modules(text, &modules);
    assert_eq!(named, modules);
}

#[test]
fn handlers_never_hold_the_system_capability() {
    let found: Vec<String> = rust_files(&src().join("routes"))
        .into_iter()
        .filter(|p| {
            let text = fs::read_to_string(p).unwrap();
            text.contains("SystemAccess") || text.contains("Tenant::system")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(found.is_empty(), "system capability in handlers: {found:?}");
}

#[test]
fn db_returns_its_own_errors() {
    let found: Vec<String> = rust_files(&src().join("db"))
        .into_iter()
        .filter(|p| code_only(&fs::read_to_string(p).unwrap()).contains("crate::error"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        found.is_empty(),
        "db must not depend on the web error: {found:?}"
    );
}

/// Lines of `text` (comments left out) that read the wall clock directly.
fn wall_clock_reads(path: &Path, text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| line.contains("Utc::now"))
        .map(|(i, line)| format!("{}:{}: {}", path.display(), i + 1, line.trim()))
        .collect()
}

#[test]
fn time_comes_from_the_clock() {
    let clock = src().join("clock.rs");
    let found: Vec<String> = rust_files(&src())
        .into_iter()
        .filter(|p| *p != clock)
        .flat_map(|p| wall_clock_reads(&p, &fs::read_to_string(&p).unwrap()))
        .collect();
    assert!(
        found.is_empty(),
        "read `now` from the app's clock (state.clock, the request's now, or a `now` parameter):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_wall_clock_check_can_fail() {
    let text = "// Utc::now() in a comment is fine\nlet at = chrono::Utc::now();\nlet t = x.then(Utc::now);\n";
    let found = wall_clock_reads(Path::new("x.rs"), text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("x.rs:2:"));
}

/// Where the database wall is moved (`db::wall`): `file::function` for each
/// call of `wall::lifted`, `wall::enter_org` or `wall::enter_user`.
fn wall_movers(path: &Path, text: &str) -> Vec<String> {
    let file = path.file_stem().unwrap().to_string_lossy().to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for mover in ["wall::lifted(", "wall::enter_org(", "wall::enter_user("] {
            if code.contains(mover) {
                let func = enclosing_fn(&lines, i).unwrap_or_default();
                found.push(format!("{file}::{func} {}", mover.trim_end_matches('(')));
            }
        }
    }
    found
}

/// Each place that lets a request's queries reach beyond its session's
/// organization, reviewed: token-keyed reads (invitation links, API keys,
/// unsubscribe links, which then enter the link's organization),
/// sign-in, creating an organization, accepting an invitation, a signed
/// payment event, account deletion and the development outbox; and the
/// demo's seeding (the CLI, with system access already), which only names
/// who made each seeded change. A new one must be added here.
const WALL_MOVERS: &[&str] = &[
    "account_deletion::delete wall::lifted",
    "account_deletion::plan wall::lifted",
    "api_keys::authenticate wall::lifted",
    "demo::build wall::enter_user",
    "events::process wall::enter_org",
    "events::process wall::lifted",
    "history::move_through_funnel wall::enter_user",
    "invitations::accept wall::enter_org",
    "invitations::find_by_token wall::lifted",
    "invitations::lock_by_token wall::lifted",
    "orgs::create_entered wall::enter_org",
    "orgs::first_org_at_sign_in wall::enter_user",
    "orgs::free_slug wall::lifted",
    "outbox::visible_to wall::lifted",
    "suppression::open_link wall::enter_org",
    "suppression::open_link wall::lifted",
];

#[test]
fn the_database_wall_is_moved_only_where_reviewed() {
    let mut found: Vec<String> = rust_files(&src())
        .iter()
        .filter(|p| !p.ends_with("wall.rs"))
        .flat_map(|p| wall_movers(p, &fs::read_to_string(p).unwrap()))
        .collect();
    found.sort();
    assert_eq!(found, WALL_MOVERS, "unreviewed moves of the database wall");
}

#[test]
fn the_wall_mover_check_can_fail() {
    let planted = "fn list_everything(conn: &mut PgConnection) {\n    wall::lifted(conn, |c| leads::table.load(c))\n}\n";
    assert_eq!(
        wall_movers(Path::new("src/db/leads.rs"), planted),
        ["leads::list_everything wall::lifted"]
    );
}

#[test]
fn only_the_identity_middleware_sets_a_request_scope() {
    let found: Vec<String> = rust_files(&src())
        .into_iter()
        .filter(|p| {
            !p.ends_with("db/wall.rs")
                && !p.ends_with("auth/middleware.rs")
                && !p.ends_with("api/auth.rs")
        })
        .filter(|p| code_only(&fs::read_to_string(p).unwrap()).contains("Scope::new("))
        .map(|p| p.display().to_string())
        .collect();
    assert!(found.is_empty(), "request scopes built in {found:?}");
}

/// Route modules (files under src/routes with a `route_table!`) that the
/// `features!` list in routes/mod.rs does not name: they would compile and
/// never be served or swept.
fn unlisted_route_modules(mod_rs: &str, route_files: &[(String, String)]) -> Vec<String> {
    let listed: BTreeSet<&str> = mod_rs
        .split("features![")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    route_files
        .iter()
        .filter(|(_, text)| text.contains("route_table!"))
        .map(|(name, _)| name.clone())
        .filter(|name| !listed.contains(name.as_str()))
        .collect()
}

fn route_files() -> Vec<(String, String)> {
    rust_files(&src().join("routes"))
        .into_iter()
        .filter(|p| {
            p.parent() == Some(src().join("routes").as_path()) && p.file_name().unwrap() != "mod.rs"
        })
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn every_route_module_is_listed_once_for_serving_and_the_sweep() {
    let mod_rs = fs::read_to_string(src().join("routes/mod.rs")).unwrap();
    let unlisted = unlisted_route_modules(&mod_rs, &route_files());
    assert!(
        unlisted.is_empty(),
        "route modules missing from features!: {unlisted:?}"
    );
}

#[test]
fn the_route_listing_check_can_fail() {
    let mod_rs = "pub mod leads;\npub mod hidden;\nfeatures![\n    leads,\n];\n";
    let files = vec![
        (
            "leads".to_string(),
            "route_table! { GET \"/leads\" => list }".to_string(),
        ),
        (
            "hidden".to_string(),
            "route_table! { GET \"/hidden\" => show }".to_string(),
        ),
    ];
    assert_eq!(
        unlisted_route_modules(mod_rs, &files),
        vec!["hidden".to_string()]
    );
}

/// The files among `paths` that rustfmt would change (rustfmt run on each
/// file by itself, so modules declared inside macros are covered too).
fn unformatted(paths: &[PathBuf]) -> Vec<String> {
    let output = std::process::Command::new("rustfmt")
        .args(["--edition", "2021", "--check", "-l"])
        .args(paths)
        .output()
        .expect("rustfmt runs (it comes with the Rust toolchain)");
    let listed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() || !listed.trim().is_empty(),
        "rustfmt failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    listed.lines().map(str::to_string).collect()
}

#[test]
fn every_source_file_is_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = rust_files(&src());
    files.extend(rust_files(&root.join("tests")));
    let found = unformatted(&files);
    assert!(found.is_empty(), "files rustfmt would change: {found:?}");
}

#[test]
fn the_formatting_check_can_fail() {
    let dir = std::env::temp_dir().join(format!("ld-fmt-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let planted = dir.join("planted_route.rs");
    fs::write(&planted, "pub fn handler( ) -> u8 {1}\n").unwrap();
    let found = unformatted(std::slice::from_ref(&planted));
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
}
