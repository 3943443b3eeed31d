//! Sender mailboxes: an organization's own SMTP/IMAP accounts that outreach
//! goes out from and replies come back to. This module holds what talks to
//! those servers and keeps their passwords; the rows are in `db::mailboxes`.

pub mod imap;
pub mod net;
pub mod secrets;
pub mod smtp;
