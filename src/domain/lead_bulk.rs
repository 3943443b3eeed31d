//! Bulk actions on the lead list: what can be done to many leads at once,
//! who may do it, and its one-string form. The list's bulk form sends the
//! action as that string (`status:qualified`, `tag_add`, `owner:none`,
//! `enrol:<id>`, `delete`, `export`); a background bulk job stores the same
//! string, so the form and the job parse it with one function.

use crate::domain::leads::{self, LeadStatus};
use crate::domain::roles::Action;
use crate::ids::{SequenceId, UserId};

/// A change to apply to every selected lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkChange {
    SetStatus(LeadStatus),
    AddTag(String),
    RemoveTag(String),
    /// A member of the organization, or nobody.
    SetOwner(Option<UserId>),
    Enrol(SequenceId),
    Delete,
}

/// What the bulk form asks for: a change, or a CSV file of the selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    Change(BulkChange),
    Export,
}

impl BulkChange {
    /// The permission the acting member needs.
    pub fn needs(&self) -> Action {
        match self {
            BulkChange::Enrol(_) => Action::SendMessages,
            _ => Action::ManageLeads,
        }
    }

    /// The stored form (without the tag, which is stored beside it).
    pub fn code(&self) -> String {
        match self {
            BulkChange::SetStatus(s) => format!("status:{s}"),
            BulkChange::AddTag(_) => "tag_add".into(),
            BulkChange::RemoveTag(_) => "tag_remove".into(),
            BulkChange::SetOwner(Some(id)) => format!("owner:{id}"),
            BulkChange::SetOwner(None) => "owner:none".into(),
            BulkChange::Enrol(id) => format!("enrol:{id}"),
            BulkChange::Delete => "delete".into(),
        }
    }

    /// The tag an add/remove-tag change carries ("" for the others).
    pub fn tag(&self) -> &str {
        match self {
            BulkChange::AddTag(t) | BulkChange::RemoveTag(t) => t,
            _ => "",
        }
    }

    /// The audit log's action name.
    pub fn audit_action(&self) -> &'static str {
        match self {
            BulkChange::SetStatus(_) => "lead.bulk_status_changed",
            BulkChange::AddTag(_) => "lead.bulk_tag_added",
            BulkChange::RemoveTag(_) => "lead.bulk_tag_removed",
            BulkChange::SetOwner(_) => "lead.bulk_owner_changed",
            BulkChange::Enrol(_) => "lead.bulk_enrolled",
            BulkChange::Delete => "lead.bulk_deleted",
        }
    }

    /// What it does, as a phrase for confirmations and progress
    /// ("set the status to Qualified").
    pub fn describe(&self) -> String {
        match self {
            BulkChange::SetStatus(s) => format!("set the status to {}", s.label()),
            BulkChange::AddTag(t) => format!("add the tag “{t}”"),
            BulkChange::RemoveTag(t) => format!("remove the tag “{t}”"),
            BulkChange::SetOwner(Some(_)) => "give them to another owner".into(),
            BulkChange::SetOwner(None) => "make them unassigned".into(),
            BulkChange::Enrol(_) => "enrol them in a sequence".into(),
            BulkChange::Delete => "delete them".into(),
        }
    }
}

/// "12 leads" / "1 lead".
pub fn leads_count(n: usize) -> String {
    format!("{n} lead{}", if n == 1 { "" } else { "s" })
}

/// The flash after a bulk change: what happened to how many of the
/// selected leads, and why the others were left as they were.
pub fn summary(change: &BulkChange, selected: usize, changed: usize) -> String {
    let n = leads_count(changed);
    let done = match change {
        BulkChange::SetStatus(s) => format!("Status set to {} on {n}.", s.label()),
        BulkChange::AddTag(t) => format!("Tag “{t}” added to {n}."),
        BulkChange::RemoveTag(t) => format!("Tag “{t}” removed from {n}."),
        BulkChange::SetOwner(Some(_)) => format!("New owner given to {n}."),
        BulkChange::SetOwner(None) => format!("{} unassigned.", capitalised(&n)),
        BulkChange::Enrol(_) => format!("Enrolled {n}."),
        BulkChange::Delete => format!("Deleted {n}."),
    };
    let left = selected.saturating_sub(changed);
    if left == 0 {
        return done;
    }
    let why = match change {
        BulkChange::SetStatus(_) => "already had it",
        BulkChange::AddTag(_) => "already had it or have the most tags allowed",
        BulkChange::RemoveTag(_) => "did not have it",
        BulkChange::SetOwner(_) => "already had that owner",
        BulkChange::Enrol(_) => "were already enrolled",
        BulkChange::Delete => "were already gone",
    };
    format!("{done} {} {why}.", capitalised(&leads_count(left)))
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl BulkAction {
    /// The permission the acting member needs.
    pub fn needs(&self) -> Action {
        match self {
            BulkAction::Change(c) => c.needs(),
            BulkAction::Export => Action::ReadWorkspace,
        }
    }
}

/// Parses the bulk form's `action` and `tag` fields; the error is the
/// message to show.
pub fn parse(code: &str, tag: &str) -> Result<BulkAction, String> {
    let (kind, value) = code.split_once(':').unwrap_or((code, ""));
    let change = match kind {
        "export" => return Ok(BulkAction::Export),
        "status" => BulkChange::SetStatus(
            value
                .parse()
                .map_err(|_| "Choose a status from the list.".to_string())?,
        ),
        "tag_add" => BulkChange::AddTag(one_tag(tag)?),
        "tag_remove" => BulkChange::RemoveTag(one_tag(tag)?),
        "owner" if value == "none" => BulkChange::SetOwner(None),
        "owner" => BulkChange::SetOwner(Some(
            value
                .parse()
                .map_err(|_| "Choose an owner from the list.".to_string())?,
        )),
        "enrol" => BulkChange::Enrol(
            value
                .parse()
                .map_err(|_| "Choose a sequence from the list.".to_string())?,
        ),
        "delete" => BulkChange::Delete,
        "" => return Err("Choose what to do with the selected leads.".into()),
        _ => return Err("Choose an action from the list.".into()),
    };
    Ok(BulkAction::Change(change))
}

/// Exactly one valid tag.
fn one_tag(text: &str) -> Result<String, String> {
    match leads::tags(text, ',')?.as_slice() {
        [tag] => Ok(tag.clone()),
        [] => Err("Type the tag to add or remove.".into()),
        _ => Err("Type one tag.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_round_trips_through_its_code() {
        let seq = SequenceId::new();
        let user = UserId::new();
        for change in [
            BulkChange::SetStatus(LeadStatus::Qualified),
            BulkChange::AddTag("vip".into()),
            BulkChange::RemoveTag("vip".into()),
            BulkChange::SetOwner(Some(user)),
            BulkChange::SetOwner(None),
            BulkChange::Enrol(seq),
            BulkChange::Delete,
        ] {
            let parsed = parse(&change.code(), change.tag()).unwrap();
            assert_eq!(parsed, BulkAction::Change(change));
        }
        assert_eq!(parse("export", "").unwrap(), BulkAction::Export);
    }

    #[test]
    fn bad_input_gets_a_message() {
        assert!(parse("", "").unwrap_err().contains("Choose what to do"));
        assert!(parse("status:won", "").is_err());
        assert!(parse("owner:someone", "").is_err());
        assert!(parse("enrol:", "").is_err());
        assert!(parse("drop_table", "").is_err());
        assert!(parse("tag_add", "  ").unwrap_err().contains("Type the tag"));
        assert!(parse("tag_add", &"x".repeat(41)).is_err());
    }

    #[test]
    fn summaries_count_what_changed_and_say_why_the_rest_did_not() {
        let qualified = BulkChange::SetStatus(LeadStatus::Qualified);
        assert_eq!(
            summary(&qualified, 3, 3),
            "Status set to Qualified on 3 leads."
        );
        assert_eq!(
            summary(&qualified, 3, 2),
            "Status set to Qualified on 2 leads. 1 lead already had it."
        );
        assert_eq!(summary(&BulkChange::Delete, 1, 1), "Deleted 1 lead.");
    }

    #[test]
    fn enrolling_needs_send_rights_and_the_rest_lead_rights() {
        assert_eq!(
            BulkChange::Enrol(SequenceId::new()).needs(),
            Action::SendMessages
        );
        assert_eq!(BulkChange::Delete.needs(), Action::ManageLeads);
        assert_eq!(BulkAction::Export.needs(), Action::ReadWorkspace);
    }
}
