//! The team page: members with their roles and permissions, pending
//! invitations, the invite form and the viewer's own membership. The whole
//! page body is one fragment (`#team`) that every team action re-renders, so
//! seat counts and last-owner hints never go stale after an HTMX swap.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup};

use crate::db::invitations::{OpenInvitation, State};
use crate::db::team::MemberRow;
use crate::domain::membership::INVITABLE;
use crate::domain::plans::{format_limit, Limit};
use crate::domain::roles::{may_manage_member, Role};
use crate::forms::FieldErrors;
use crate::ids::UserId;
use crate::views::components::{csrf, data_table, form_errors, Field};
use crate::views::format::{date, relative, role_badge};
use crate::views::layout::{self, Flash};

/// Element id of the fragment every team action swaps.
pub const TEAM_ID: &str = "team";

/// Seats: members plus pending invitations against the plan's user limit.
#[derive(Debug, Clone)]
pub struct Seats {
    pub used: i64,
    pub limit: Limit,
    pub plan_name: &'static str,
}

impl Seats {
    pub fn left(&self) -> Option<i64> {
        self.limit.map(|l| (l - self.used).max(0))
    }

    pub fn full(&self) -> bool {
        self.left() == Some(0)
    }
}

/// Values and problems of the invite form.
#[derive(Debug, Clone, Default)]
pub struct InviteValues {
    pub email: String,
    pub role: String,
    pub errors: FieldErrors,
    /// Set when the plan's seats ran out while inviting (shown with an upgrade link).
    pub limit_message: Option<String>,
}

/// Everything the team page shows.
pub struct TeamView<'a> {
    pub csrf: &'a str,
    pub org_name: &'a str,
    pub me: UserId,
    pub my_role: Role,
    pub email_verified: bool,
    pub members: &'a [MemberRow],
    pub invitations: &'a [OpenInvitation],
    pub seats: Seats,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    pub invite: InviteValues,
}

impl TeamView<'_> {
    fn manages(&self) -> bool {
        matches!(self.my_role, Role::Owner | Role::Admin)
    }

    fn owners(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.role() == Role::Owner)
            .count()
    }
}

/// The page body: the `#team` fragment.
pub fn body(v: &TeamView) -> Markup {
    section(v)
}

/// The `#team` fragment; `#flash` is replaced out of band with `flash`, or
/// emptied, so an earlier message never lingers over a new result.
pub fn fragment(v: &TeamView, flash: Option<&Flash>) -> Markup {
    html! {
        (section(v))
        div #flash aria-live="polite" hx-swap-oob="true" {
            @if let Some(f) = flash { (layout::flash(f)) }
        }
    }
}

fn section(v: &TeamView) -> Markup {
    html! {
        div.stack-lg #(TEAM_ID) {
            (head(v))
            @if !v.manages() {
                div.banner.banner-info role="status" {
                    "You are a " strong { (v.my_role.label()) } " in " (v.org_name)
                    ": you can see the team, but only owners and admins can change it."
                }
            }
            (members_card(v))
            @if v.manages() {
                (pending_card(v))
                (invite_card(v))
            }
            (own_membership_card(v))
        }
    }
}

fn head(v: &TeamView) -> Markup {
    let members = v.members.len();
    let pending = v.invitations.len();
    html! {
        div.page-head {
            div {
                h1 { "Team" }
                p {
                    (members) (if members == 1 { " member" } else { " members" })
                    @if v.manages() && pending > 0 {
                        " · " (pending) (if pending == 1 { " open invitation" } else { " open invitations" })
                    }
                    @if let Some(limit) = v.seats.limit {
                        " · " (v.seats.used) " of " (format_limit(Some(limit))) " seats used"
                    }
                }
            }
            @if v.manages() {
                div.actions { a.btn.btn-primary href="#invite" { "Invite member" } }
            }
        }
    }
}

fn members_card(v: &TeamView) -> Markup {
    html! {
        section.card.flush aria-labelledby="members-title" {
            div.card-head { h2 #members-title { "Members" } }
            (data_table(&["Member", "Role", "Permissions", "Joined"], true, html! {
                @for m in v.members { (member_row(v, m)) }
            }))
        }
    }
}

/// Element id of a member's row.
pub fn row_id(user: UserId) -> String {
    format!("member-{user}")
}

fn hx_form_attrs() -> (&'static str, &'static str) {
    ("#team", "outerHTML")
}

fn member_row(v: &TeamView, m: &MemberRow) -> Markup {
    let is_me = m.user_id() == v.me;
    let can_manage = v.manages() && !is_me && may_manage_member(v.my_role, m.role());
    html! {
        tr #(row_id(m.user_id())) {
            td.stack-title {
                strong { (m.name) }
                @if is_me { " " span.muted.small { "(you)" } }
                span.cell-sub { (m.email) }
            }
            td data-label="Role" {
                @if can_manage { (role_form(v, m)) } @else { (role_badge(m.role())) }
            }
            td data-label="Permissions" {
                @if can_manage && m.role() == Role::Member { (permissions_form(v, m)) }
                @else { (permissions_text(m)) }
            }
            td.nowrap data-label="Joined" { (date(m.member.joined_at, v.tz)) }
            td.actions { (row_actions(v, m, is_me, can_manage)) }
        }
    }
}

fn role_form(v: &TeamView, m: &MemberRow) -> Markup {
    let current = m.role();
    let options: &[Role] = if current == Role::Owner {
        &Role::ALL
    } else {
        &[Role::Admin, Role::Member, Role::Viewer]
    };
    let id = format!("role-{}", m.user_id());
    let action = format!("/team/members/{}/role", m.user_id());
    let (target, swap) = hx_form_attrs();
    html! {
        form.inline-form method="post" action=(action) hx-post=(action) hx-trigger="change"
            hx-target=(target) hx-swap=(swap) {
            (csrf(v.csrf))
            label.sr-only for=(id) { "Role for " (m.name) }
            select #(id) name="role" data-autosubmit {
                @for r in options {
                    option value=(r.as_str()) selected[*r == current] { (r.label()) }
                }
            }
            noscript { button.btn.btn-sm type="submit" { "Change" } }
        }
    }
}

const FLAGS: [(&str, &str, &str); 3] = [
    ("can_manage_leads", "Leads", "manage leads"),
    ("can_send_messages", "Send", "send messages"),
    (
        "can_manage_templates",
        "Templates",
        "manage templates and sequences",
    ),
];

fn flag_values(m: &MemberRow) -> [bool; 3] {
    [
        m.member.can_manage_leads,
        m.member.can_send_messages,
        m.member.can_manage_templates,
    ]
}

fn permissions_form(v: &TeamView, m: &MemberRow) -> Markup {
    let action = format!("/team/members/{}/permissions", m.user_id());
    let (target, swap) = hx_form_attrs();
    html! {
        form.inline-form.perm-form method="post" action=(action) hx-post=(action) hx-trigger="change"
            hx-target=(target) hx-swap=(swap) {
            (csrf(v.csrf))
            @for ((name, short, long), on) in FLAGS.iter().zip(flag_values(m)) {
                label.checkbox title={ (m.name) " may " (long) } {
                    input type="checkbox" name=(name) value="on" checked[on]
                        aria-label={ (m.name) " may " (long) };
                    (short)
                }
            }
            noscript { button.btn.btn-sm type="submit" { "Save" } }
        }
    }
}

fn permissions_text(m: &MemberRow) -> Markup {
    let text = match m.role() {
        Role::Owner | Role::Admin => "All".to_string(),
        Role::Viewer => "Read only".to_string(),
        Role::Member => {
            let granted: Vec<&str> = FLAGS
                .iter()
                .zip(flag_values(m))
                .filter(|(_, on)| *on)
                .map(|((_, short, _), _)| *short)
                .collect();
            if granted.is_empty() {
                "Read only".into()
            } else {
                granted.join(", ")
            }
        }
    };
    html! { span.muted { (text) } }
}

fn row_actions(v: &TeamView, m: &MemberRow, is_me: bool, can_manage: bool) -> Markup {
    let last_owner = m.role() == Role::Owner && v.owners() <= 1;
    html! {
        @if last_owner && !can_manage {
            span.muted.small { "Last owner" }
        }
        @if v.my_role == Role::Owner && !is_me && m.role() != Role::Owner {
            (action_button(v, &format!("/team/members/{}/make-owner", m.user_id()), "Make owner", "btn btn-sm",
                &format!("Make {} an owner? Owners can manage billing and other owners.", m.name)))
        }
        @if can_manage && !last_owner { (remove_form(v, m)) }
    }
}

/// "Remove…" opens a small form that asks who takes over the member's
/// leads (another member, or nobody), so no lead is left pointing at
/// someone outside the organization.
fn remove_form(v: &TeamView, m: &MemberRow) -> Markup {
    let action = format!("/team/members/{}/remove", m.user_id());
    let select_id = format!("leads-to-{}", m.user_id());
    let (target, swap) = hx_form_attrs();
    let confirm = format!(
        "Remove {} from {}? They lose access at once.",
        m.name, v.org_name
    );
    html! {
        details.remove-member {
            summary.link.danger.small { "Remove…" }
            form.stack method="post" action=(action) hx-post=(action) hx-target=(target)
                hx-swap=(swap) data-confirm=(confirm) {
                (csrf(v.csrf))
                div.field {
                    label for=(select_id) { "Give " (m.name) "’s leads to" }
                    select #(select_id) name="leads_to" {
                        option value="" { "Nobody (leave unassigned)" }
                        @for other in v.members.iter().filter(|o| o.user_id() != m.user_id()) {
                            option value=(other.user_id()) { (other.name) }
                        }
                    }
                }
                button.btn.btn-sm.btn-danger type="submit" { "Remove " (m.name) }
            }
        }
    }
}

/// A one-button form posting to `action`, confirmed first (with or without htmx).
pub fn action_button(
    v: &TeamView,
    action: &str,
    label: &str,
    class: &str,
    confirm: &str,
) -> Markup {
    let (target, swap) = hx_form_attrs();
    html! {
        form.inline-form method="post" action=(action) hx-post=(action) hx-target=(target)
            hx-swap=(swap) data-confirm=(confirm) {
            (csrf(v.csrf))
            button class=(class) type="submit" { (label) }
        }
    }
}

fn own_membership_card(v: &TeamView) -> Markup {
    let owner = v.my_role == Role::Owner;
    let only_owner = owner && v.owners() <= 1;
    html! {
        section.card.stack aria-labelledby="me-title" {
            h2 #me-title { "Your membership" }
            p.muted {
                "You are " (if owner { "an " } else { "a " }) strong { (v.my_role.label()) } " of " (v.org_name) "."
                @if only_owner {
                    " You are its only owner: make another member an owner before you step down or leave."
                }
            }
            @if !only_owner {
                div.cluster {
                    @if owner {
                        (action_button(v, "/team/step-down", "Step down to admin", "btn",
                            "Step down as owner? You stay in the organization as an admin."))
                    }
                    (action_button(v, "/team/leave", "Leave organization", "btn btn-danger-outline",
                        &format!("Leave {}? You lose access at once; an owner or admin can invite you again.", v.org_name)))
                }
            }
        }
    }
}

/// The "Open invitations" card (owners and admins).
pub fn pending_card(v: &TeamView) -> Markup {
    html! {
        @if !v.invitations.is_empty() {
            section.card.flush #invitations aria-labelledby="invitations-title" {
                div.card-head { h2 #invitations-title { "Open invitations" } }
                (data_table(&["Email", "Role", "Expires"], true, html! {
                    @for i in v.invitations { (pending_row(v, i)) }
                }))
            }
        }
    }
}

fn pending_row(v: &TeamView, open: &OpenInvitation) -> Markup {
    let inv = &open.invitation;
    let expired = inv.state(v.now) == State::Expired;
    let base = format!("/team/invitations/{}", inv.id);
    html! {
        tr #{ "invitation-" (inv.id) } {
            td.stack-title {
                (inv.email)
                @if let Some(by) = &open.inviter { span.cell-sub { "Invited by " (by) } }
            }
            td data-label="Role" { (role_badge(inv.role)) }
            td.nowrap data-label="Expires" {
                @if expired { span.badge.badge-amber { "Expired" } }
                @else { span title=(date(inv.expires_at, v.tz)) { (relative(inv.expires_at, v.now)) } }
            }
            td.actions {
                (action_button(v, &format!("{base}/resend"), "Resend", "btn btn-sm",
                    &format!("Send {} a new link? The old link stops working.", inv.email)))
                (action_button(v, &format!("{base}/revoke"), "Revoke", "btn btn-sm btn-ghost",
                    &format!("Revoke the invitation for {}?", inv.email)))
            }
        }
    }
}

/// The "Invite a member" card: seats left, then the form — or the upgrade
/// prompt when no seat is left, or a note when the inviter's email is unconfirmed.
pub fn invite_card(v: &TeamView) -> Markup {
    let seats = &v.seats;
    html! {
        section.card.stack #invite aria-labelledby="invite-title" {
            div.card-head {
                h2 #invite-title { "Invite a member" }
                span.muted.small {
                    @match seats.left() {
                        Some(left) => { (left) (if left == 1 { " seat" } else { " seats" }) " left of " (format_limit(seats.limit)) }
                        None => { "Unlimited seats" }
                    }
                }
            }
            @if let Some(message) = v.invite.limit_message.as_deref().or(seats.full().then_some("")) {
                div.banner.banner-warn role="status" {
                    div {
                        strong { "No seats left." }
                        " "
                        @if message.is_empty() {
                            "Your " (seats.plan_name) " plan includes " (format_limit(seats.limit))
                            " seats, and members plus open invitations use them all. Upgrade to invite more, or revoke an open invitation."
                        } @else { (message) }
                    }
                    div.banner-actions { a.btn.btn-sm.btn-primary href="/plans" { "Upgrade plan" } }
                }
            } @else if !v.email_verified {
                div.banner.banner-info role="status" {
                    "Please confirm your email address before inviting others. "
                    a href="/account" { "Resend the confirmation link" }
                }
            } @else {
                (invite_form(v))
            }
        }
    }
}

fn invite_form(v: &TeamView) -> Markup {
    let errors = &v.invite.errors;
    let role_error = errors.get("role");
    let chosen = if v.invite.role.is_empty() {
        Role::Member.as_str()
    } else {
        v.invite.role.as_str()
    };
    html! {
        form.stack method="post" action="/team/invitations" hx-post="/team/invitations"
            hx-target="#team" hx-swap="outerHTML" novalidate {
            (csrf(v.csrf))
            (form_errors(errors))
            div.form-row {
                (Field::new("email", "Email address", &v.invite.email).kind("email").required()
                    .autocomplete("off").render(errors))
                div.field.has-error[role_error.is_some()] {
                    label for="f-role" { "Role" }
                    select #f-role name="role" aria-invalid=[role_error.map(|_| "true")]
                        aria-describedby=[role_error.map(|_| "f-role-error")] {
                        @for r in INVITABLE {
                            option value=(r.as_str()) selected[r.as_str() == chosen] { (r.label()) }
                        }
                    }
                    @if let Some(e) = role_error { p.field-error #f-role-error { (e) } }
                }
            }
            div.form-actions {
                button.btn.btn-primary type="submit" { "Send invitation" }
                span.muted.small { "The link is valid for 7 days. Admins manage members; members work with leads; viewers only read." }
            }
        }
    }
}
