//! Pieces several route modules share that belong to no single feature's
//! routes: how the account page's cards answer, and what an invitation link
//! offers (used by the link's own pages and by sign-up). No routes here.

pub mod account_card;
pub mod invitation_link;
