//! Lead rules shared by the form and the CSV import: statuses, tags and the
//! validation of one lead's fields. Pure: the caller checks uniqueness.

use crate::forms::{self, FieldErrors};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeadStatus {
    New,
    Contacted,
    Replied,
    Qualified,
    Lost,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 5] = [
        LeadStatus::New,
        LeadStatus::Contacted,
        LeadStatus::Replied,
        LeadStatus::Qualified,
        LeadStatus::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::Contacted => "contacted",
            LeadStatus::Replied => "replied",
            LeadStatus::Qualified => "qualified",
            LeadStatus::Lost => "lost",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LeadStatus::New => "New",
            LeadStatus::Contacted => "Contacted",
            LeadStatus::Replied => "Replied",
            LeadStatus::Qualified => "Qualified",
            LeadStatus::Lost => "Lost",
        }
    }

    /// Badge colour class for lists.
    pub fn badge(self) -> &'static str {
        match self {
            LeadStatus::New => "badge-blue",
            LeadStatus::Contacted => "badge-gray",
            LeadStatus::Replied => "badge-green",
            LeadStatus::Qualified => "badge-brand",
            LeadStatus::Lost => "badge-red",
        }
    }
}

super::canonical_str!(LeadStatus, "lead status");

/// Where a lead came from (`leads.source`; analytics split new leads by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeadSource {
    /// Added with the form on the leads page.
    Page,
    /// Imported from a CSV file.
    Csv,
    /// Created through the JSON API.
    Api,
}

impl LeadSource {
    pub const ALL: [LeadSource; 3] = [LeadSource::Page, LeadSource::Csv, LeadSource::Api];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadSource::Page => "page",
            LeadSource::Csv => "csv",
            LeadSource::Api => "api",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LeadSource::Page => "Added on the page",
            LeadSource::Csv => "CSV import",
            LeadSource::Api => "API",
        }
    }
}

/// Written as its canonical text (the API's JSON).
impl serde::Serialize for LeadStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_LEN: usize = 40;
pub const MAX_NOTES: usize = 2000;

/// A lead's own fields. `LeadInput` holds them as typed in (form) or read
/// (CSV), every one as text; `LeadFields` holds them validated, ready to store.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(
    default,
    bound(
        deserialize = "Status: serde::Deserialize<'de> + Default, Tags: serde::Deserialize<'de> + Default"
    )
)]
pub struct LeadRecord<Status, Tags> {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub company: String,
    pub title: String,
    pub phone: String,
    pub status: Status,
    pub tags: Tags,
    pub notes: String,
    /// The lead's own IANA time zone (`Europe/Berlin`), which a mailbox's
    /// sending window is read in; empty: the organization's. Written as
    /// `null` when empty.
    #[serde(serialize_with = "empty_as_null")]
    pub time_zone: String,
}

/// An empty text as `null`, anything else as itself.
fn empty_as_null<S: serde::Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    if value.is_empty() {
        s.serialize_none()
    } else {
        s.serialize_str(value)
    }
}

/// A lead as typed in or read from a file.
pub type LeadInput = LeadRecord<String, String>;

/// A validated lead.
pub type LeadFields = LeadRecord<LeadStatus, Vec<String>>;

/// A short text field: trimmed, bounded, free of control characters and of
/// markup (`<`, `>`), which has no place in a name and is refused, not stored.
fn short_text(value: &str, label: &str, min: usize, max: usize) -> Result<String, String> {
    let value = forms::text(value, label, min, max)?;
    if value.contains(['<', '>']) {
        return Err(format!("{label} must not contain < or >."));
    }
    if value.contains(['\n', '\r']) {
        return Err(format!("{label} must be on one line."));
    }
    Ok(value)
}

fn phone(value: &str) -> Result<String, String> {
    let value = short_text(value, "Phone", 0, 40)?;
    if value
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()./".contains(c))
    {
        Ok(value)
    } else {
        Err("Phone may contain digits, spaces and + - ( ) . / only.".into())
    }
}

/// Parses a status; empty means `new`. Case-insensitive for imports.
pub fn status(value: &str) -> Result<LeadStatus, String> {
    let v = value.trim().to_lowercase();
    if v.is_empty() {
        return Ok(LeadStatus::New);
    }
    v.parse().map_err(|_| {
        format!(
            "Status must be one of: {}.",
            LeadStatus::ALL.map(LeadStatus::as_str).join(", ")
        )
    })
}

/// Splits tags on `separator`: trimmed, empty ones dropped, duplicates removed.
pub fn tags(value: &str, separator: char) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for tag in value
        .split(separator)
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let tag = short_text(tag, "A tag", 1, MAX_TAG_LEN)
            .map_err(|_| format!("Each tag must be 1–{MAX_TAG_LEN} characters of plain text."))?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(format!("At most {MAX_TAGS} tags."));
    }
    Ok(out)
}

/// A lead's time zone: empty stays empty (the organization's applies),
/// anything else must be an IANA name and is stored as the zone spells it.
pub fn time_zone(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    if value.len() > 64 {
        return Err("Enter a time zone name such as Europe/Berlin.".into());
    }
    crate::domain::pacing::parse_time_zone(value).map(|tz| tz.name().to_string())
}

/// Validates every field; errors are keyed by field name.
pub fn validate(input: &LeadInput, tag_separator: char) -> Result<LeadFields, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut take = |field: &str, r: Result<String, String>| match r {
        Ok(v) => v,
        Err(e) => {
            errors.add(field, e);
            String::new()
        }
    };
    let first_name = take(
        "first_name",
        short_text(&input.first_name, "First name", 1, 100),
    );
    let last_name = take(
        "last_name",
        short_text(&input.last_name, "Last name", 0, 100),
    );
    let email = take("email", forms::email(&input.email));
    let company = take("company", short_text(&input.company, "Company", 0, 200));
    let title = take("title", short_text(&input.title, "Title", 0, 120));
    let phone = take("phone", phone(&input.phone));
    let notes = take("notes", forms::text(&input.notes, "Notes", 0, MAX_NOTES));
    let time_zone = take("time_zone", time_zone(&input.time_zone));
    let status = status(&input.status).unwrap_or_else(|e| {
        errors.add("status", e);
        LeadStatus::New
    });
    let tags = tags(&input.tags, tag_separator).unwrap_or_else(|e| {
        errors.add("tags", e);
        Vec::new()
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(LeadFields {
        first_name,
        last_name,
        email,
        company,
        title,
        phone,
        status,
        tags,
        notes,
        time_zone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> LeadInput {
        LeadInput {
            first_name: " Anna ".into(),
            email: "Anna@Example.com".into(),
            tags: "vip, berlin,vip".into(),
            ..LeadInput::default()
        }
    }

    #[test]
    fn a_minimal_lead_is_valid_and_normalised() {
        let lead = validate(&input(), ',').unwrap();
        assert_eq!(lead.first_name, "Anna");
        assert_eq!(lead.email, "anna@example.com");
        assert_eq!(lead.status, LeadStatus::New);
        assert_eq!(lead.tags, vec!["vip", "berlin"]);
    }

    #[test]
    fn bad_fields_are_reported_by_name() {
        let bad = LeadInput {
            first_name: "".into(),
            email: "nope".into(),
            company: "<script>".into(),
            status: "won".into(),
            phone: "call me".into(),
            ..LeadInput::default()
        };
        let errors = validate(&bad, ',').unwrap_err();
        for field in ["first_name", "email", "company", "status", "phone"] {
            assert!(errors.get(field).is_some(), "{field} reported");
        }
    }

    #[test]
    fn a_time_zone_is_optional_and_must_be_known() {
        let mut lead = input();
        assert_eq!(validate(&lead, ',').unwrap().time_zone, "");
        lead.time_zone = " America/New_York ".into();
        assert_eq!(validate(&lead, ',').unwrap().time_zone, "America/New_York");
        lead.time_zone = "Mars/Olympus".into();
        let errors = validate(&lead, ',').unwrap_err();
        assert!(errors
            .get("time_zone")
            .is_some_and(|e| e.contains("not a known time zone")));
    }

    #[test]
    fn an_empty_time_zone_is_written_as_null() {
        let lead = validate(&input(), ',').unwrap();
        let json = serde_json::to_value(&lead).unwrap();
        assert!(json["time_zone"].is_null(), "{json}");
    }

    #[test]
    fn statuses_parse_case_insensitively_for_imports() {
        assert_eq!(status("Qualified").unwrap(), LeadStatus::Qualified);
        assert_eq!(status("").unwrap(), LeadStatus::New);
        assert!(status("won").is_err());
    }

    #[test]
    fn tags_are_bounded() {
        let many = (0..21)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(";");
        assert!(tags(&many, ';').is_err());
        assert!(tags(&"x".repeat(41), ';').is_err());
        assert_eq!(tags(" a ; ;b", ';').unwrap(), vec!["a", "b"]);
    }
}
