//! Who the client is, behind a load balancer. `X-Forwarded-For` and
//! `X-Forwarded-Proto` are believed only when the TCP peer is one of the
//! `TRUSTED_PROXIES`: anyone else could write them, and a forged address
//! would dodge the sign-in rate limit or lock someone else out. Without
//! trusted proxies the TCP peer is the client, as before.
//!
//! The forwarded chain is read from the right (the entry the nearest proxy
//! appended) and every hop that is itself a trusted proxy is skipped: the
//! first untrusted hop is the client. Entries left of it were written by
//! the client and are never believed.

use std::net::IpAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use ipnet::IpNet;

use crate::state::AppState;

/// The client as far as the app can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// The client's address (the TCP peer's when nothing is believed).
    pub ip: Option<IpAddr>,
    /// The scheme a trusted proxy says the client used: `Some(true)` for
    /// https, `Some(false)` for http, `None` when no trusted proxy said.
    pub https: Option<bool>,
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    // An IPv4 peer may arrive as an IPv4-mapped IPv6 address.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    proxies.iter().any(|net| net.contains(&ip))
}

/// One hop of `X-Forwarded-For`: an address, possibly with a port or brackets.
fn hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Ok(sock) = entry.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    entry
        .trim_start_matches('[')
        .split(']')
        .next()
        .and_then(|s| s.parse().ok())
}

/// The client of a request that arrived from `peer` with `headers`.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &[IpNet]) -> ClientAddr {
    let direct = ClientAddr {
        ip: peer,
        https: None,
    };
    let Some(peer) = peer.filter(|p| trusted(*p, proxies)) else {
        return direct;
    };
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().eq_ignore_ascii_case("https"));
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        // An unreadable hop ends the chain: what lies left of it is unknown.
        let Some(ip) = hop(entry) else { break };
        client = ip;
        if !trusted(ip, proxies) {
            break;
        }
    }
    ClientAddr {
        ip: Some(client),
        https,
    }
}

/// The client of `req` under the app's `TRUSTED_PROXIES` (remembered on the
/// request by `middleware`, computed when it did not run).
pub fn of(req: &HttpRequest) -> ClientAddr {
    if let Some(addr) = req.extensions().get::<ClientAddr>() {
        return *addr;
    }
    let proxies = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.trusted_proxies.as_slice())
        .unwrap_or(&[]);
    resolve(req.peer_addr().map(|a| a.ip()), req.headers(), proxies)
}

/// Resolves the client once per request. With secure cookies on, a request
/// a trusted proxy says came over plain http is sent to https first, so a
/// session cookie is never set on (nor asked of) an unencrypted connection.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let proxies = state
        .as_ref()
        .map(|s| s.config.trusted_proxies.as_slice())
        .unwrap_or(&[]);
    let addr = resolve(req.peer_addr().map(|a| a.ip()), req.headers(), proxies);
    req.extensions_mut().insert(addr);
    if let Some(state) = state.filter(|s| s.config.secure_cookies) {
        if addr.https == Some(false) {
            let target = https_target(&state.config.public_url, req.uri());
            let res = HttpResponse::PermanentRedirect()
                .insert_header(("Location", target))
                .finish();
            return Ok(req.into_response(res).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The same path and query on the https `PUBLIC_URL` (never on a host the
/// request named: that would be an open redirect).
fn https_target(public_url: &str, uri: &actix_web::http::Uri) -> String {
    let base = public_url.trim_end_matches('/');
    let base = match base.strip_prefix("http://") {
        Some(rest) => format!("https://{rest}"),
        None => base.to_string(),
    };
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{base}{path}")
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// (case, peer, headers, trusted proxies, expected client, expected https)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a [IpNet],
        &'a str,
        Option<bool>,
    );

    #[test]
    fn forwarded_headers_are_believed_only_from_trusted_peers() {
        let proxies: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ];
        let xff = |v: &'static str| ("x-forwarded-for", v);
        let https = ("x-forwarded-proto", "https");
        // (case, peer, headers, proxies, expected client, expected https)
        let table: Vec<Case> = vec![
            (
                "trusted peer with header",
                "10.1.2.3",
                vec![xff("203.0.113.7"), https],
                &proxies,
                "203.0.113.7",
                Some(true),
            ),
            (
                "trusted peer, plain http",
                "127.0.0.1",
                vec![xff("203.0.113.7"), ("x-forwarded-proto", "http")],
                &proxies,
                "203.0.113.7",
                Some(false),
            ),
            (
                "untrusted peer with spoofed header",
                "198.51.100.9",
                vec![xff("203.0.113.7"), https],
                &proxies,
                "198.51.100.9",
                None,
            ),
            (
                "no proxies configured",
                "10.1.2.3",
                vec![xff("203.0.113.7"), https],
                &[],
                "10.1.2.3",
                None,
            ),
            (
                "trusted peer, no header",
                "10.1.2.3",
                vec![],
                &proxies,
                "10.1.2.3",
                None,
            ),
            (
                "untrusted peer, no header",
                "198.51.100.9",
                vec![],
                &proxies,
                "198.51.100.9",
                None,
            ),
            (
                "client-written entries left of the real one are ignored",
                "10.1.2.3",
                vec![xff("1.1.1.1, 203.0.113.7")],
                &proxies,
                "203.0.113.7",
                None,
            ),
            (
                "trusted hops are skipped",
                "10.1.2.3",
                vec![xff("203.0.113.7, 10.9.9.9"), xff("127.0.0.1")],
                &proxies,
                "203.0.113.7",
                None,
            ),
            (
                "an unreadable hop ends the chain",
                "10.1.2.3",
                vec![xff("203.0.113.7, garbage")],
                &proxies,
                "10.1.2.3",
                None,
            ),
            (
                "ports and IPv6 brackets",
                "10.1.2.3",
                vec![xff("[2001:db8::1]:4711")],
                &proxies,
                "2001:db8::1",
                None,
            ),
            (
                "IPv4-mapped trusted peer",
                "::ffff:10.1.2.3",
                vec![xff("203.0.113.7")],
                &proxies,
                "203.0.113.7",
                None,
            ),
        ];
        for (case, peer, pairs, proxies, client, scheme) in table {
            let got = resolve(Some(ip(peer)), &headers(&pairs), proxies);
            assert_eq!(got.ip, Some(ip(client)), "{case}");
            assert_eq!(got.https, scheme, "{case}");
        }
        assert_eq!(
            resolve(None, &headers(&[xff("1.2.3.4")]), &proxies).ip,
            None
        );
    }

    #[test]
    fn plain_http_is_sent_to_the_public_https_url() {
        let uri: actix_web::http::Uri = "/login?next=%2Fleads".parse().unwrap();
        assert_eq!(
            https_target("https://leads.example.com/", &uri),
            "https://leads.example.com/login?next=%2Fleads"
        );
        assert_eq!(
            https_target("http://leads.example.com", &uri),
            "https://leads.example.com/login?next=%2Fleads"
        );
    }
}
