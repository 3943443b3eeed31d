//! Where a webhook may be delivered (the SSRF guard). A URL must be
//! `https://` without credentials; at delivery time its host is resolved
//! once, every address that is loopback, private, link-local, multicast,
//! unspecified or otherwise not public (v4 and v6, including v4-mapped and
//! NAT64 forms) is refused, and the connection goes to the checked address
//! (the HTTP client's resolver is `resolve` itself, so there is no second
//! lookup). `WEBHOOK_ALLOW_PRIVATE_TARGETS=1` lifts both rules, for
//! development and tests only.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use url::Url;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2000;

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
                return Err(
                    "The URL points to a private or local address; events go to public hosts only.",
                );
            }
        }
    }
    Ok(url)
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
        let shown: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refused: {netloc} resolves to a private or local address ({})",
                shown.join(", ")
            ),
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
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // Benchmarking 198.18.0.0/15 and reserved 240.0.0.0/4.
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
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
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34"] {
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
    fn names_resolving_to_loopback_are_refused_unless_allowed() {
        assert!(resolve("localhost:443", false).is_err());
        assert!(resolve("[::ffff:127.0.0.1]:443", false).is_err());
        assert!(resolve("localhost:443", true).is_ok());
    }
}
