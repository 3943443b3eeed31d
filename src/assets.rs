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

pub const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/app.css"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/htmx.min.js"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/app.js"),
    },
    Asset {
        name: "chevron-down.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../assets/chevron-down.svg"),
    },
    Asset {
        name: "search.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../assets/search.svg"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../assets/icon.svg"),
    },
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
