//! Where a webhook may be delivered (the SSRF guard). A URL must be
//! `https://` without credentials, on port 443, 80 or 1024–65535 except the
//! well-known database ports (`BLOCKED_PORTS`). Its host is resolved when
//! the endpoint is saved and again, once, at each delivery: every address
//! that is loopback, private, link-local, multicast, unspecified or
//! otherwise not public (v4 and v6, v4-mapped and NAT64 forms included) is
//! refused, and the connection goes to the checked address (the HTTP
//! client's resolver is `resolve` itself, so there is no second lookup).
//! Refusals never name the address a host resolved to, so the delivery log
//! cannot be used to map internal networks. `WEBHOOK_ALLOW_PRIVATE_TARGETS=1`
//! lifts these rules, for development and tests only.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use url::Url;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// Ports above 1023 that databases, caches and search servers listen on by
/// default: a webhook never needs them, an attacker probing a network would.
pub const BLOCKED_PORTS: [u16; 14] = [
    1433, 1521, 2375, 2379, 3306, 5432, 5984, 6379, 7000, 7001, 9042, 9200, 11211, 27017,
];

/// What a person is told when the host is private or local.
pub const PRIVATE_HOST: &str =
    "The URL's host is a private or local address; events go to public hosts only.";
/// What the delivery log says when the host name does not resolve.
pub const UNRESOLVED_HOST: &str = "The URL's host name does not resolve (DNS).";

/// The URL as saved, or why it is refused (a sentence for the form).
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Enter the URL that should receive the events.");
    }
    if raw.len() > MAX_URL_LEN {
        return Err("The URL is too long (at most 2,000 characters).");
    }
    let url = Url::parse(raw).map_err(|_| "Enter a full URL, like https://example.com/hooks.")?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err("The URL must start with https:// (events are sent encrypted only)."),
        _ => return Err("The URL must start with https://."),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "The URL must not contain a user name or password; the signature proves who sends.",
        );
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("The URL needs a host name.");
    }
    if !allow_private {
        if let Some(ip) = literal_ip(&url) {
            if !is_public(ip) {
                return Err(PRIVATE_HOST);
            }
        }
        if !port_allowed(url.port_or_known_default().unwrap_or(443)) {
            return Err("Use port 443, 80 or a port from 1024 to 65535 that is not a database's.");
        }
    }
    Ok(url)
}

/// True for the ports a webhook may be sent to (see `BLOCKED_PORTS`).
pub fn port_allowed(port: u16) -> bool {
    port == 443 || port == 80 || (port >= 1024 && !BLOCKED_PORTS.contains(&port))
}

/// The save-time half of the delivery check: a host that resolves only to
/// private or local addresses is refused now, as delivery would refuse it.
/// A name that does not resolve yet is accepted (its DNS record may come
/// later); each delivery checks again and logs why it failed.
pub fn check_host(url: &Url, allow_private: bool) -> Result<(), &'static str> {
    if allow_private {
        return Ok(());
    }
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Err("The URL needs a host name.");
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match (host, port).to_socket_addrs() {
        Ok(found) => {
            let found: Vec<SocketAddr> = found.collect();
            if !found.is_empty() && !found.iter().any(|a| is_public(a.ip())) {
                return Err(PRIVATE_HOST);
            }
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Resolves `host:port` (as the HTTP client passes it; IPv6 in brackets)
/// and keeps only addresses a delivery may go to.
pub fn resolve(netloc: &str, allow_private: bool) -> io::Result<Vec<SocketAddr>> {
    let found: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
    let allowed: Vec<SocketAddr> = found
        .iter()
        .copied()
        .filter(|a| allow_private || is_public(a.ip()))
        .collect();
    if allowed.is_empty() {
        // The address itself is not named: the log would map the network.
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            PRIVATE_HOST,
        ));
    }
    Ok(allowed)
}

/// True for an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // Benchmarking 198.18.0.0/15 and reserved 240.0.0.0/4.
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // v4-mapped ::ffff:0:0/96 never leaves the host's own stack as v6:
    // refused whatever address it embeds.
    if ip.to_ipv4_mapped().is_some() {
        return false;
    }
    let s = ip.segments();
    // Local-use NAT64, 64:ff9b:1::/48, translates into private networks.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return false;
    }
    // NAT64 (64:ff9b::/96) reaches the embedded v4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [_, _, _, _, _, _, hi, lo] = s;
        return is_public_v4(Ipv4Addr::from(((hi as u32) << 16) | lo as u32));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10.
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        // Deprecated v4-compatible ::/96 and documentation 2001:db8::/32.
        || s[0..6] == [0, 0, 0, 0, 0, 0]
        || (s[0] == 0x2001 && s[1] == 0xdb8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_local_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "192.0.0.8",
            "::ffff:93.184.216.34",
            "64:ff9b:1::5db8:d822",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "64:ff9b::5db8:d822"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_need_https_and_no_credentials() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://hooks.example.com/x", false).is_err());
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_url("https://user:pw@hooks.example.com/", false).is_err());
        assert!(check_url("ftp://hooks.example.com/", false).is_err());
        assert!(check_url("not a url", false).is_err());
        assert!(check_url("https://[::1]/", false).is_err());
        assert!(check_url("https://10.0.0.1/", false).is_err());
    }

    #[test]
    fn only_web_ports_and_high_ports_other_than_databases() {
        assert!(check_url("https://hooks.example.com:8443/x", false).is_ok());
        assert!(check_url("https://hooks.example.com:80/x", false).is_ok());
        for port in [22, 25, 1023, 5432, 6379, 27017] {
            let url = format!("https://hooks.example.com:{port}/x");
            assert!(check_url(&url, false).is_err(), "{port}");
            assert!(
                check_url(&url, true).is_ok(),
                "{port} allowed in development"
            );
        }
    }

    #[test]
    fn a_name_for_a_local_address_is_refused_when_saved_and_the_refusal_hides_it() {
        let url = check_url("https://localhost:18777/hook", false).expect("the form is fine");
        assert_eq!(check_host(&url, false), Err(PRIVATE_HOST));
        assert_eq!(check_host(&url, true), Ok(()));
        let unknown = check_url("https://hooks.example.invalid/", false).unwrap();
        assert_eq!(check_host(&unknown, false), Ok(()), "may resolve later");
        let refused = resolve("localhost:18777", false).unwrap_err().to_string();
        assert!(!refused.contains("127.0.0.1"), "{refused}");
        assert!(!refused.contains("::1"), "{refused}");
    }

    #[test]
    fn names_resolving_to_loopback_are_refused_unless_allowed() {
        assert!(resolve("localhost:443", false).is_err());
        assert!(resolve("[::ffff:127.0.0.1]:443", false).is_err());
        assert!(resolve("localhost:443", true).is_ok());
    }
}
