//! Leads as CSV rows, in the column order the import reads back: shared by
//! the streamed export of `/leads/export` and the organization archive.
//! Every cell goes through `neutralise_cell`, so a spreadsheet never runs a
//! lead's text as a formula.

use std::io::Write;

use crate::db::leads::Lead;
use crate::domain::lead_import;

/// Writes `rows` (and first the header when `with_header`) to `w`.
pub fn write<W: Write>(
    w: &mut csv::Writer<W>,
    rows: &[Lead],
    with_header: bool,
) -> csv::Result<()> {
    if with_header {
        let header = lead_import::FIELDS.iter().copied().chain(["created_at"]);
        w.write_record(header)?;
    }
    for l in rows {
        let tags = l.fields.tags.join(";");
        let created = l.created_at.to_rfc3339();
        let status = l.fields.status.to_string();
        let cells = [
            &l.fields.first_name,
            &l.fields.last_name,
            &l.fields.email,
            &l.fields.company,
            &l.fields.title,
            &l.fields.phone,
            &status,
            &tags,
            &l.fields.notes,
            &l.fields.time_zone,
            &created,
        ];
        w.write_record(cells.map(|c| lead_import::neutralise_cell(c).into_owned()))?;
    }
    Ok(())
}
