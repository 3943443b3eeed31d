//! Which mailbox a sequence sends from: its mode (the enrolling member's
//! own mailbox, chosen mailboxes in rotation, or the lead owner's mailbox)
//! and the rotation rule. Pure: the caller reads the candidates and stores
//! the pick.

use crate::ids::MailboxId;

/// How a sequence picks the mailbox of an enrolment's first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderMode {
    /// The enrolling member's own mailbox (the default).
    Enroller,
    /// The chosen mailboxes, in rotation.
    Mailboxes,
    /// The lead owner's own mailbox.
    LeadOwner,
}

impl SenderMode {
    pub const ALL: [SenderMode; 3] = [
        SenderMode::Enroller,
        SenderMode::Mailboxes,
        SenderMode::LeadOwner,
    ];

    /// The stored (and submitted) name.
    pub fn as_str(self) -> &'static str {
        match self {
            SenderMode::Enroller => "enroller",
            SenderMode::Mailboxes => "mailboxes",
            SenderMode::LeadOwner => "lead_owner",
        }
    }

    /// What the sequence page calls it.
    pub fn label(self) -> &'static str {
        match self {
            SenderMode::Enroller => "The enrolling member's own mailbox",
            SenderMode::Mailboxes => "Chosen mailboxes, in rotation",
            SenderMode::LeadOwner => "The lead owner's mailbox",
        }
    }
}

super::canonical_str!(SenderMode, "sender mode");

/// A chosen mailbox as the rotation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: MailboxId,
    /// Its address: ties go to the one that sorts first.
    pub email: String,
    /// Only `active` mailboxes send now.
    pub active: bool,
    /// Running (active or paused) enrolments of the sequence it already
    /// sends for.
    pub load: i64,
}

/// The rotation rule: the chosen mailbox with the fewest running enrolments
/// of the sequence, ties to the address that sorts first. Mailboxes that
/// are not active are passed over while an active one is chosen; when none
/// is active, the rule applies to all (the mail then waits for its mailbox,
/// nothing is lost). Assigned one enrolment at a time, this is a round
/// robin: A, B, A, B …
pub fn pick(candidates: &[Candidate]) -> Option<MailboxId> {
    let any_active = candidates.iter().any(|c| c.active);
    candidates
        .iter()
        .filter(|c| c.active || !any_active)
        .min_by(|a, b| (a.load, &a.email).cmp(&(b.load, &b.email)))
        .map(|c| c.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn candidate(n: u128, email: &str, active: bool, load: i64) -> Candidate {
        Candidate {
            id: MailboxId(Uuid::from_u128(n)),
            email: email.into(),
            active,
            load,
        }
    }

    #[test]
    fn the_least_loaded_mailbox_is_picked_ties_by_address() {
        let a = candidate(1, "a@x.example", true, 1);
        let b = candidate(2, "b@x.example", true, 0);
        assert_eq!(pick(&[a.clone(), b.clone()]), Some(b.id));
        let b_even = Candidate { load: 1, ..b };
        assert_eq!(pick(&[b_even, a.clone()]), Some(a.id));
    }

    #[test]
    fn a_mailbox_that_is_not_active_is_skipped_while_another_is() {
        let paused = candidate(1, "a@x.example", false, 0);
        let busy = candidate(2, "b@x.example", true, 9);
        assert_eq!(pick(&[paused.clone(), busy.clone()]), Some(busy.id));
        assert_eq!(pick(std::slice::from_ref(&paused)), Some(paused.id));
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn modes_have_one_stored_name() {
        for mode in SenderMode::ALL {
            assert_eq!(mode.as_str().parse::<SenderMode>(), Ok(mode));
        }
        assert!("rotation".parse::<SenderMode>().is_err());
    }
}
