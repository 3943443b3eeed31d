//! Reading a CSV file of leads: the header row names the columns
//! (case-insensitively), every later row becomes a lead or a problem with its
//! line number. Pure: duplicates against the database are the caller's job.
//! Cells are written so no spreadsheet runs them as formulas, and read back
//! to what they were (`neutralise_cell` / `restore_cell`).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::domain::leads::{validate, LeadFields, LeadInput};

/// Lead fields a column can fill, as written in the header.
pub const FIELDS: [&str; 10] = [
    "first_name",
    "last_name",
    "email",
    "company",
    "title",
    "phone",
    "status",
    "tags",
    "notes",
    "time_zone",
];

/// First characters that make a spreadsheet read a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell for export: one a spreadsheet would run as a formula gets a
/// leading `'` (OWASP's rule for CSV injection), which spreadsheets show as
/// text. Every CSV the app writes passes its cells through here.
pub fn neutralise_cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(FORMULA_START) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// A cell read on import: the `'` that `neutralise_cell` added is removed,
/// so an exported file imports back to the same leads (`+49 …` stays a
/// valid phone number). A `'` before anything else is kept as written.
pub fn restore_cell(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_START) => rest,
        _ => value,
    }
}

/// Why a whole file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    Empty,
    HeaderNotUtf8,
    MissingColumn(&'static str),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Empty => write!(
                f,
                "The file is empty. It needs a header row and at least one lead."
            ),
            FileError::HeaderNotUtf8 => write!(
                f,
                "The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again."
            ),
            FileError::MissingColumn(c) => write!(
                f,
                "The header row has no “{c}” column. Columns are matched by name: {}.",
                FIELDS.join(", ")
            ),
        }
    }
}

/// Which lead field each column fills (`None`: ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub headers: Vec<String>,
    pub fields: Vec<Option<&'static str>>,
}

/// One data row: a lead, or why it is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Line in the file where the row starts (the header is line 1).
    pub line: u64,
    pub outcome: Result<LeadFields, String>,
}

#[derive(Debug, Clone)]
pub struct Parsed {
    pub mapping: Mapping,
    pub rows: Vec<Row>,
}

impl Parsed {
    pub fn valid(&self) -> usize {
        self.rows.iter().filter(|r| r.outcome.is_ok()).count()
    }
}

/// "First Name" → "first_name".
fn normalise(header: &str) -> String {
    header.trim().to_lowercase().replace([' ', '-'], "_")
}

fn mapping(header: &csv::ByteRecord) -> Result<Mapping, FileError> {
    let mut headers = Vec::new();
    let mut fields = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let mut text = std::str::from_utf8(raw).map_err(|_| FileError::HeaderNotUtf8)?;
        if i == 0 {
            text = text.trim_start_matches('\u{feff}');
        }
        let key = normalise(text);
        let field = FIELDS.iter().copied().find(|f| *f == key);
        // A second column for the same field is ignored.
        fields.push(field.filter(|f| !fields.contains(&Some(*f))));
        headers.push(text.trim().to_string());
    }
    for required in ["email", "first_name"] {
        if !fields.contains(&Some(required)) {
            return Err(FileError::MissingColumn(required));
        }
    }
    Ok(Mapping { headers, fields })
}

fn row_input(mapping: &Mapping, record: &csv::ByteRecord) -> Result<LeadInput, String> {
    if record.len() != mapping.fields.len() {
        return Err(format!(
            "has {} fields, the header has {}.",
            record.len(),
            mapping.fields.len()
        ));
    }
    let mut input = LeadInput::default();
    for (field, raw) in mapping.fields.iter().zip(record.iter()) {
        let Some(field) = field else { continue };
        let value = std::str::from_utf8(raw)
            .map_err(|_| "is not valid UTF-8 text; save the file as “CSV UTF-8”.".to_string())?;
        let value = restore_cell(value).to_string();
        match *field {
            "first_name" => input.first_name = value,
            "last_name" => input.last_name = value,
            "email" => input.email = value,
            "company" => input.company = value,
            "title" => input.title = value,
            "phone" => input.phone = value,
            "status" => input.status = value,
            "tags" => input.tags = value,
            "time_zone" => input.time_zone = value,
            _ => input.notes = value,
        }
    }
    Ok(input)
}

fn check(mapping: &Mapping, record: &csv::ByteRecord) -> Result<LeadFields, String> {
    let input = row_input(mapping, record)?;
    if input.email.trim().is_empty() {
        return Err("email is missing.".into());
    }
    if input.first_name.trim().is_empty() {
        return Err("first_name is missing.".into());
    }
    validate(&input, ';').map_err(|errors| {
        errors
            .iter()
            .map(|(_, message)| message.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Reads the whole file. Rows with problems are kept with their reason; a
/// repeated email is a problem on every line after the first.
pub fn parse(bytes: &[u8]) -> Result<Parsed, FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(h)) if h.iter().any(|f| !f.is_empty()) => h,
        _ => return Err(FileError::Empty),
    };
    let mapping = mapping(&header)?;
    let mut rows = Vec::new();
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    for record in records {
        let (line, outcome) = match record {
            Ok(r) if r.iter().all(|f| f.is_empty()) => continue,
            Ok(r) => (r.position().map_or(0, |p| p.line()), check(&mapping, &r)),
            Err(e) => (
                e.position().map_or(0, |p| p.line()),
                Err("cannot be read as CSV.".to_string()),
            ),
        };
        let outcome = outcome.and_then(|lead| match first_seen.get(&lead.email) {
            Some(first) => Err(format!("duplicate of line {first} (same email).")),
            None => {
                first_seen.insert(lead.email.clone(), line);
                Ok(lead)
            }
        });
        rows.push(Row { line, outcome });
    }
    if rows.is_empty() {
        return Err(FileError::Empty);
    }
    Ok(Parsed { mapping, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_restored() {
        for hostile in [
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "+1+1",
            "-2+3",
            "@SUM(1+1)",
            "\t=1",
            "\r=1",
        ] {
            let cell = neutralise_cell(hostile);
            assert!(cell.starts_with('\''), "{hostile:?} exported as {cell:?}");
            assert_eq!(restore_cell(&cell), hostile);
        }
        for plain in ["Ann", "", "O'Neil", "'quoted", "a=b"] {
            assert_eq!(neutralise_cell(plain), plain);
            assert_eq!(restore_cell(plain), plain);
        }
    }

    #[test]
    fn columns_match_by_name_in_any_case_and_order() {
        let file = "\u{feff}Email,First Name,IGNORED,tags\nann@x.io,Ann,zzz,a;b\n";
        let parsed = parse(file.as_bytes()).unwrap();
        assert_eq!(
            parsed.mapping.fields,
            vec![Some("email"), Some("first_name"), None, Some("tags")]
        );
        let lead = parsed.rows[0].outcome.clone().unwrap();
        assert_eq!((lead.first_name.as_str(), lead.tags.len()), ("Ann", 2));
        assert_eq!(parsed.rows[0].line, 2);
    }

    #[test]
    fn bad_rows_carry_their_line_and_reason() {
        let file = "first_name,email,status\nAnn,ann@x.io,new\n\"Multi\nline\",bad,new\n,bob@x.io,\nCid,cid@x.io,won\nAnn2,ANN@x.io,\nDee,dee@x.io\n";
        let rows = parse(file.as_bytes()).unwrap().rows;
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 5, 6, 7, 8]);
        let reasons: Vec<String> = rows
            .iter()
            .map(|r| r.outcome.clone().err().unwrap_or_default())
            .collect();
        assert!(reasons[0].is_empty());
        assert!(reasons[1].contains("valid email"));
        assert!(reasons[2].contains("first_name is missing"));
        assert!(reasons[3].contains("Status must be"));
        assert!(reasons[4].contains("duplicate of line 2"));
        assert!(reasons[5].contains("has 2 fields"));
    }

    #[test]
    fn an_optional_time_zone_column_is_read_and_checked() {
        let file = "first_name,email,time_zone\nAnn,ann@x.io,Europe/Berlin\nBo,bo@x.io,\nCy,cy@x.io,Mars/Olympus\n";
        let rows = parse(file.as_bytes()).unwrap().rows;
        assert_eq!(rows[0].outcome.clone().unwrap().time_zone, "Europe/Berlin");
        assert_eq!(rows[1].outcome.clone().unwrap().time_zone, "");
        assert!(rows[2]
            .outcome
            .clone()
            .unwrap_err()
            .contains("not a known time zone"));
    }

    #[test]
    fn encoding_and_structure_problems() {
        assert_eq!(parse(b"").unwrap_err(), FileError::Empty);
        assert_eq!(parse(b"first_name,email\n").unwrap_err(), FileError::Empty);
        assert_eq!(
            parse(b"name,mail\nA,a@x.io\n").unwrap_err(),
            FileError::MissingColumn("email")
        );
        assert_eq!(
            parse(b"first_name,e\xe9mail\n").unwrap_err(),
            FileError::HeaderNotUtf8
        );
        let latin1 = b"first_name,email\nM\xfcller,m@x.io\nAnn,ann@x.io\n";
        let rows = parse(latin1).unwrap().rows;
        assert!(rows[0].outcome.clone().unwrap_err().contains("UTF-8"));
        assert!(rows[1].outcome.is_ok());
    }
}
