//! The page shell: signed-in pages get the top bar (brand, organization
//! switcher, notices, user menu), the side navigation, banners and the
//! `#flash` region; signed-out pages a simple centred shell. Both load only
//! the app's own CSS and scripts (the CSP allows nothing else).

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::assets;
use crate::db::orgs::Membership;

/// htmx settings: no injected inline styles (CSP), no eval, and swap 4xx/5xx
/// responses too (forms re-render with 422, errors arrive as alerts).
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"[45]..","swap":true,"error":true}]}"#;

/// A one-off message shown at the top of the next page.
#[derive(Debug, Clone)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Error,
}

/// The navigation entries; `Nav::None` highlights nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Leads,
    Templates,
    Sequences,
    Messages,
    Team,
    Usage,
    Analytics,
    Billing,
    Settings,
    Audit,
    Account,
    Sessions,
    None,
}

const NAV_ITEMS: &[(Nav, &str, &str)] = &[
    (Nav::Dashboard, "/dashboard", "Dashboard"),
    (Nav::Leads, "/leads", "Leads"),
    (Nav::Templates, "/templates", "Templates"),
    (Nav::Sequences, "/sequences", "Sequences"),
    (Nav::Messages, "/messages", "Messages"),
    (Nav::Team, "/team", "Team"),
    (Nav::Analytics, "/analytics", "Analytics"),
    (Nav::Usage, "/usage", "Usage & plan"),
    (Nav::Settings, "/settings", "Settings"),
    (Nav::Audit, "/audit", "Audit log"),
];

/// The signed-in user's own pages, below the organization's.
const ACCOUNT_NAV_ITEMS: &[(Nav, &str, &str)] = &[
    (Nav::Account, "/account", "Account"),
    (Nav::Sessions, "/account/sessions", "Sessions"),
];

/// The current organization as the shell shows it.
#[derive(Debug, Clone)]
pub struct ShellOrg {
    pub id: crate::ids::OrgId,
    pub name: String,
    pub brand_name: Option<String>,
    /// White-label colour (`#rrggbb`), served as `/brand.css`.
    pub brand_color: Option<String>,
    /// White-label logo stored (served as `/brand/logo`).
    pub has_logo: bool,
    pub role_label: &'static str,
    pub status_label: &'static str,
    pub trial_days_left: Option<i64>,
    pub past_due: bool,
    pub can_manage_billing: bool,
    /// The date the organization is to be deleted, as shown.
    pub deletion_on: Option<String>,
    /// An OWNER: may cancel the deletion.
    pub is_owner: bool,
}

/// Everything the signed-in shell needs besides the page body.
#[derive(Debug, Clone)]
pub struct Shell {
    pub user_name: String,
    pub csrf: String,
    pub org: Option<ShellOrg>,
    pub orgs: Vec<Membership>,
    pub unread_notices: i64,
    pub unverified_email: bool,
    pub flash: Option<Flash>,
}

fn head(title: &str, brand_color: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Lead Dashboard" }
            link rel="icon" href=(assets::url("icon.svg")) type="image/svg+xml";
            link rel="stylesheet" href=(assets::url("app.css"));
            @if let Some(color) = brand_color {
                link rel="stylesheet" href={ "/brand.css?v=" (color.trim_start_matches('#')) };
            }
            meta name="htmx-config" content=(HTMX_CONFIG);
            script src=(assets::url("htmx.min.js")) defer {}
            script src=(assets::url("app.js")) defer {}
        }
    }
}

fn hx_headers(csrf: &str) -> String {
    serde_json::json!({ "X-CSRF-Token": csrf }).to_string()
}

/// A signed-in page.
pub fn app_page(shell: &Shell, nav: Nav, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, shell.org.as_ref().and_then(|o| o.brand_color.as_deref())))
            body.app hx-headers=(hx_headers(&shell.csrf)) {
                a.skip-link href="#main" { "Skip to content" }
                (topbar(shell))
                (sidenav(nav))
                main.content #main {
                    (banners(shell))
                    div #flash aria-live="polite" { @if let Some(f) = &shell.flash { (flash(f)) } }
                    (body)
                    (footer())
                }
            }
        }
    }
}

/// A signed-out page (landing, sign-in, sign-up, invitation, errors).
pub fn public_page(title: &str, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body.public hx-headers=[csrf.map(hx_headers)] {
                header.public-head {
                    a.brand href="/" { img src=(assets::url("icon.svg")) alt="" width="28" height="28"; span { "Lead Dashboard" } }
                    nav.public-nav aria-label="Account" {
                        a href="/login" { "Sign in" }
                        a.btn.btn-primary.btn-sm href="/signup" { "Start free trial" }
                    }
                }
                main.public-main #main { div #flash aria-live="polite" {} (body) }
                (footer())
            }
        }
    }
}

/// The foot of every page: where the privacy page is.
fn footer() -> Markup {
    html! {
        footer.site-footer { a href="/privacy" { "Privacy: what we keep and for how long" } }
    }
}

/// A success message swapped into `#flash` out of band, beside a fragment.
pub fn flash_oob(text: &str) -> Markup {
    html! { div #flash hx-swap-oob="innerHTML" { div.flash.flash-success role="status" { (text) } } }
}

pub fn flash(f: &Flash) -> Markup {
    match f.kind {
        FlashKind::Success => html! { div.flash.flash-success role="status" { (f.text) } },
        FlashKind::Error => html! { div.flash.flash-error role="alert" { (f.text) } },
    }
}

fn topbar(shell: &Shell) -> Markup {
    let brand = shell
        .org
        .as_ref()
        .and_then(|o| o.brand_name.clone())
        .unwrap_or_else(|| "Lead Dashboard".into());
    html! {
        header.topbar {
            a.brand href="/dashboard" {
                @if shell.org.as_ref().is_some_and(|o| o.has_logo) { img.brand-logo src="/brand/logo" alt=""; }
                @else { img src=(assets::url("icon.svg")) alt="" width="28" height="28"; }
                span { (brand) }
            }
            (org_switcher(shell))
            div.topbar-right {
                (bell(shell.unread_notices, false))
                div.user-menu {
                    a href="/account" { (shell.user_name) }
                    form method="post" action="/logout" {
                        input type="hidden" name="csrf_token" value=(shell.csrf);
                        button.link type="submit" { "Sign out" }
                    }
                }
            }
        }
    }
}

/// The notices bell with the unread count; `oob` marks it for an HTMX
/// out-of-band swap (answers that change the count send it along).
pub fn bell(unread: i64, oob: bool) -> Markup {
    html! {
        a.bell #bell href="/notices" aria-label={ "Notices, " (unread) " unread" }
            hx-swap-oob=[oob.then_some("true")] {
            (PreEscaped(BELL_SVG))
            @if unread > 0 { span.bell-count { (unread) } }
        }
    }
}

const BELL_SVG: &str = r#"<svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true"><path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9"/><path d="M13.7 21a2 2 0 0 1-3.4 0"/></svg>"#;

fn org_switcher(shell: &Shell) -> Markup {
    let current = shell.org.as_ref().map(|o| o.id);
    html! {
        form.org-switch method="post" action="/orgs/switch" {
            input type="hidden" name="csrf_token" value=(shell.csrf);
            label.sr-only for="org-switch" { "Organization" }
            select #org-switch name="org_id" data-autosubmit {
                @if current.is_none() { option value="" selected { "Choose…" } }
                @for m in &shell.orgs {
                    option value=(m.org_id) selected[Some(m.org_id) == current] { (m.name) }
                }
            }
            button.btn.btn-sm type="submit" { "Switch" }
            a.btn.btn-sm.btn-ghost href="/orgs" { "All" }
        }
    }
}

fn sidenav(active: Nav) -> Markup {
    html! {
        nav.sidenav aria-label="Main" {
            ul {
                @for (nav, href, label) in NAV_ITEMS {
                    li { a href=(href) aria-current=[(*nav == active).then_some("page")] { (label) } }
                }
            }
            p.nav-section { "Your account" }
            ul {
                @for (nav, href, label) in ACCOUNT_NAV_ITEMS {
                    li { a href=(href) aria-current=[(*nav == active).then_some("page")] { (label) } }
                }
            }
        }
    }
}

fn banners(shell: &Shell) -> Markup {
    html! {
        @if shell.unverified_email {
            div.banner.banner-info role="status" {
                "Please confirm your email address — we sent you a link. "
                a href="/account" { "Resend it" }
            }
        }
        @if let Some(org) = &shell.org {
            @if let Some(day) = &org.deletion_on { (deletion_banner(day, org.is_owner, &shell.csrf)) }
            @if let Some(days) = org.trial_days_left {
                div.banner.(if days <= 3 { "banner-warn" } else { "banner-info" }) role="status" #trial-banner {
                    strong { "Free trial: " (days) (if days == 1 { " day" } else { " days" }) " left." }
                    " "
                    a href="/plans" { "Compare plans" }
                }
            }
            @if org.past_due && org.can_manage_billing {
                div.banner.banner-danger role="alert" {
                    strong { "Your last payment failed." }
                    " Update your payment method to keep your plan. "
                    a href="/billing" { "Go to billing" }
                }
            }
        }
    }
}

/// "This organization will be deleted on …", with the owners' way back.
fn deletion_banner(day: &str, is_owner: bool, csrf_token: &str) -> Markup {
    html! {
        div.banner.banner-danger role="alert" #deletion-banner {
            div {
                strong { "This organization will be deleted on " (day) "." }
                @if !is_owner { " An owner can still cancel it." }
            }
            @if is_owner {
                div.banner-actions {
                    form method="post" action="/settings/delete/cancel" {
                        (crate::views::components::csrf(csrf_token))
                        button.btn.btn-sm type="submit" { "Cancel deletion" }
                    }
                }
            }
        }
    }
}
