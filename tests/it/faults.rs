//! Fault tolerance: the app answers 503 quickly while PostgreSQL is down,
//! recovers by itself when it returns (no restart), loses no acknowledged
//! write, and answers 503 rather than queueing when the pool is exhausted.
//! These tests run their own PostgreSQL cluster so they can stop it.

use std::time::{Duration, Instant};

use actix_web::{web, HttpServer};
use lead_dashboard::app;
use lead_dashboard::config::Config;
use lead_dashboard::local_pg::LocalPostgres;
use lead_dashboard::state::AppState;

use crate::common::{Client, PASSWORD};

struct OwnServer {
    client_addr: std::net::SocketAddr,
    state: web::Data<AppState>,
}

fn start_app(url: &str, adjust: impl FnOnce(&mut Config)) -> OwnServer {
    let mut config = Config::for_tests(url);
    config.pool_timeout = Duration::from_millis(800);
    adjust(&mut config);
    let (db, _) =
        lead_dashboard::server::connect_and_migrate(url, &config, Duration::from_secs(30)).unwrap();
    let state = web::Data::new(AppState::new(db, config));
    let data = state.clone();
    let server = HttpServer::new(move || app::build(data.clone()))
        .workers(2)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
    let client_addr = server.addrs()[0];
    actix_rt::spawn(server.run());
    OwnServer { client_addr, state }
}

fn var_dir(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "ld-{tag}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ))
}

async fn signed_up(addr: std::net::SocketAddr) -> Client {
    let c = Client::new(addr);
    c.get("/signup").await;
    let r = c
        .post(
            "/signup",
            &[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    c.get("/dashboard").await;
    c
}

#[actix_web::test]
async fn database_outage_answers_503_then_recovers_without_restart() {
    let dir = var_dir("outage");
    let mut pg = LocalPostgres::start(&dir).expect("local cluster");
    let server = start_app(&pg.database_url(), |_| {});
    let c = signed_up(server.client_addr).await;
    let r = c.post("/orgs", &[("name", "Written Before Outage")]).await;
    assert_eq!(r.status, 303, "write acknowledged");

    pg.stop();
    for path in ["/healthz", "/dashboard", "/orgs"] {
        let started = Instant::now();
        let r = c.get(path).await;
        assert_eq!(r.status, 503, "{path} during the outage");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} answered in {:?}",
            started.elapsed()
        );
    }
    let r = c.post("/orgs", &[("name", "During Outage")]).await;
    assert_eq!(r.status, 503);

    let pg2 = LocalPostgres::start(&dir).expect("restart cluster");
    let restarted = Instant::now();
    loop {
        if c.get("/healthz").await.status == 200 {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(5),
            "not serving 5 s after the database returned"
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    let orgs = c.get("/orgs").await;
    assert_eq!(orgs.status, 200);
    assert!(
        orgs.body.contains("Written Before Outage"),
        "acknowledged write survived"
    );
    assert!(!orgs.body.contains("During Outage"));
    drop(pg2);
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn an_exhausted_pool_answers_503_instead_of_queueing() {
    let dir = var_dir("pool");
    let pg = LocalPostgres::start(&dir).expect("local cluster");
    let server = start_app(&pg.database_url(), |c| c.pool_size = 2);
    let c = signed_up(server.client_addr).await;
    // Two slow queries hold every connection of the pool.
    let held: Vec<_> = (0..2)
        .map(|_| server.state.db.pool().get().expect("connection"))
        .collect();
    let started = Instant::now();
    let r = c.get("/dashboard").await;
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered in {:?}",
        started.elapsed()
    );
    drop(held);
    assert_eq!(
        c.get("/dashboard").await.status,
        200,
        "serves again once connections return"
    );
    drop(pg);
    std::fs::remove_dir_all(&dir).ok();
}
