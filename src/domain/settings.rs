//! Rules for organization settings: URL-safe slugs, IANA time zones and
//! white-label brand colours. A brand colour is `#rrggbb` in lower case and
//! must reach WCAG contrast 4.5:1 against white (buttons carry white text).

/// Longest slug the schema accepts.
pub const SLUG_MAX: usize = 60;

/// Lower-case ASCII letters and digits in groups joined by single dashes.
pub fn check_slug(slug: &str) -> Result<(), String> {
    if slug.is_empty() {
        return Err("Slug is required.".into());
    }
    if slug.len() > SLUG_MAX {
        return Err(format!("Slug must be at most {SLUG_MAX} characters."));
    }
    let groups_ok = slug.split('-').all(|g| {
        !g.is_empty()
            && g.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if groups_ok {
        Ok(())
    } else {
        Err("Use lower-case letters, digits and single dashes, like acme-sales.".into())
    }
}

/// The IANA time zone named exactly `name`.
pub fn parse_time_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name() == name)
        .copied()
        .ok_or_else(|| "Choose a time zone from the list.".into())
}

/// An organization's IANA time zone, stored by its exact name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }

    /// The IANA name, as stored.
    pub fn as_str(self) -> &'static str {
        self.0.name()
    }
}

impl std::str::FromStr for TimeZone {
    type Err = super::UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_time_zone(s)
            .map(TimeZone)
            .map_err(|_| super::UnknownValue::new("time zone", s))
    }
}

impl std::fmt::Display for TimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// All selectable time zone names, alphabetically.
pub fn time_zone_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    names.sort_unstable();
    names
}

/// Smallest contrast ratio against white a brand colour must reach.
pub const MIN_CONTRAST: f64 = 4.5;

/// `#RRGGBB` (any case, surrounding space ignored) → `#rrggbb`, if dark enough.
pub fn parse_brand_color(input: &str) -> Result<String, String> {
    let color = input.trim().to_ascii_lowercase();
    let hex = color.strip_prefix('#').unwrap_or("");
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("Enter a colour as # and six hex digits, like #0b7285.".into());
    }
    let ratio = contrast_with_white(&color).unwrap_or(1.0);
    if ratio < MIN_CONTRAST {
        return Err(format!(
            "This colour is too light for white text (contrast {ratio:.1}:1, at least 4.5:1 needed). Choose a darker shade."
        ));
    }
    Ok(color)
}

/// WCAG 2 contrast ratio of `#rrggbb` against white; `None` if malformed.
pub fn contrast_with_white(color: &str) -> Option<f64> {
    let hex = color.strip_prefix('#')?;
    if hex.len() != 6 {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    let (r, g, b) = (channel(0)?, channel(2)?, channel(4)?);
    let lum = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    Some(1.05 / (lum + 0.05))
}

fn linear(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.03928 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Largest logo accepted, in bytes.
pub const LOGO_MAX_BYTES: usize = 256 * 1024;

/// The image type of an uploaded logo, from its first bytes (never from the
/// name or the browser's claim). PNG, JPEG and WebP only: SVG can carry script.
pub fn sniff_logo(bytes: &[u8]) -> Result<&'static str, String> {
    if bytes.is_empty() {
        return Err("Choose an image file to upload.".into());
    }
    if bytes.len() > LOGO_MAX_BYTES {
        return Err("The logo must be at most 256 KB.".into());
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Ok("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok("image/webp")
    } else {
        Err("Upload the logo as a PNG, JPEG or WebP image.".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["acme", "acme-sales", "a1-b2-c3", "x"] {
            assert_eq!(check_slug(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Acme",
            "acme--sales",
            "-acme",
            "acme-",
            "acme sales",
            "ä",
            "a_b",
        ] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
        assert!(check_slug(&"a".repeat(61)).is_err());
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(
            parse_time_zone("Europe/Berlin"),
            Ok(chrono_tz::Europe::Berlin)
        );
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert!(parse_time_zone("europe/berlin").is_err());
        let names = time_zone_names();
        assert!(names.contains(&"UTC") && names.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn colours_must_be_hex_and_dark_enough() {
        assert_eq!(parse_brand_color(" #0B7285 ").as_deref(), Ok("#0b7285"));
        assert_eq!(parse_brand_color("#4f46e5").as_deref(), Ok("#4f46e5"));
        assert!(parse_brand_color("#ffff00")
            .unwrap_err()
            .contains("too light"));
        for bad in [
            "0b7285",
            "#0b728",
            "#0b72855",
            "#gggggg",
            "red",
            "#0b7285;}",
        ] {
            assert!(parse_brand_color(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contrast_matches_wcag() {
        let black = contrast_with_white("#000000").unwrap();
        assert!((black - 21.0).abs() < 0.01);
        let white = contrast_with_white("#ffffff").unwrap();
        assert!((white - 1.0).abs() < 0.01);
        // #767676 is the classic lightest grey that passes 4.5:1.
        assert!(contrast_with_white("#767676").unwrap() >= 4.5);
        assert!(contrast_with_white("#777777").unwrap() < 4.5);
    }

    #[test]
    fn logos_are_sniffed_not_trusted() {
        assert_eq!(sniff_logo(b"\x89PNG\r\n\x1a\n...."), Ok("image/png"));
        assert_eq!(sniff_logo(&[0xff, 0xd8, 0xff, 0xe0]), Ok("image/jpeg"));
        assert_eq!(sniff_logo(b"RIFF\x10\0\0\0WEBPVP8 "), Ok("image/webp"));
        assert!(sniff_logo(b"<svg onload=alert(1)>").is_err());
        assert!(sniff_logo(b"").is_err());
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(LOGO_MAX_BYTES + 1, 0);
        assert!(sniff_logo(&big).unwrap_err().contains("256 KB"));
    }
}
