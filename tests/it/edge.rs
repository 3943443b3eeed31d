//! The web edge against an attacker: redirect targets taken from input,
//! CSV export of hostile cells, tokens in logged paths, cookies and security
//! headers, markup in names.

mod cookies;
mod csv_export;
mod in_app_errors;
mod logs;
mod names;
mod redirects;
