//! Pieces several route modules share that belong to no single feature's
//! routes: how the account page's cards answer, what an invitation link
//! offers (used by the link's own pages and by sign-up), the token of an
//! emailed link, and leads as CSV (list export and bulk export). No routes
//! here.

pub mod account_card;
pub mod invitation_link;
pub mod lead_csv;
pub mod link_token;
