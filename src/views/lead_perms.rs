//! What the current member may do with leads. The lead list, its bulk bar
//! and the lead page show their buttons by it; the server checks the role
//! again on every action.

/// What the current member may do here (buttons are shown accordingly).
#[derive(Debug, Clone, Copy)]
pub struct Perms {
    pub manage: bool,
    pub send: bool,
}
