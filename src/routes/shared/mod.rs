//! Pieces several route modules share that belong to no single feature's
//! routes: how the account page's cards answer, what an invitation link
//! offers (used by the link's own pages and by sign-up), and the token of an
//! emailed link. No routes here.

pub mod account_card;
pub mod invitation_link;
pub mod link_token;
