//! Static assets compiled into the binary and served under content-hashed
//! names (`/assets/app.<hash>.css`), so they can be cached for a year.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

pub struct Asset {
    /// Logical name, e.g. `app.css`.
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

/// An asset from `assets/`, its logical name being its file name there.
macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../assets/", $name)),
        }
    };
}

pub const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("htmx.min.js", "text/javascript; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("chevron-down.svg", "image/svg+xml"),
    asset!("search.svg", "image/svg+xml"),
    asset!("icon.svg", "image/svg+xml"),
];

fn hashed_names() -> &'static Vec<String> {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = hex::encode(&Sha256::digest(a.bytes)[..5]);
                let (stem, ext) = a.name.split_once('.').unwrap_or((a.name, ""));
                format!("{stem}.{digest}.{ext}")
            })
            .collect()
    })
}

/// The URL of an asset by logical name, e.g. `url("app.css")`.
pub fn url(name: &str) -> String {
    let i = ASSETS
        .iter()
        .position(|a| a.name == name)
        .expect("known asset name");
    format!("/assets/{}", hashed_names()[i])
}

/// Finds an asset by its hashed file name (`true`: safe to cache forever)
/// or by its plain name (as CSS `url()`s refer to icons).
pub fn lookup(file: &str) -> Option<(&'static Asset, bool)> {
    if let Some(i) = hashed_names().iter().position(|n| n == file) {
        return Some((&ASSETS[i], true));
    }
    ASSETS.iter().find(|a| a.name == file).map(|a| (a, false))
}
