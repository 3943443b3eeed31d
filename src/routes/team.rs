//! The team page and its actions: invite, resend, revoke, change role and
//! permissions, remove, make owner, step down, leave. Each action checks the
//! role table here and again, on fresh rows, inside its transaction; HTMX
//! gets the re-rendered `#team` fragment, plain forms a 303 back to /team.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::Deserialize;

use crate::auth::CurrentOrg;
use crate::db::invitations::{self, Created, Invitation};
use crate::db::pages::{self, ShellData};
use crate::db::{team, DbError, DbResult, Tenant};
use crate::domain::membership;
use crate::domain::plans::LimitKind;
use crate::domain::roles::{Action, MemberFlags, Role};
use crate::error::{AppError, AppResult};
use crate::forms::{self, FieldErrors};
use crate::ids::{InvitationId, UserId};
use crate::mail::invitations::MailContext;
use crate::routes::{redirect_with_flash, usage_changed, wants_fragment, Reply};
use crate::state::AppState;
use crate::views::layout::{Flash, FlashKind, Nav};
use crate::views::team::{self as view, InviteValues, Seats, TeamView};

route_table! {
    GET "/team" => index,
    POST "/team/invitations" => invite,
    POST "/team/invitations/{id}/resend" => resend,
    POST "/team/invitations/{id}/revoke" => revoke,
    POST "/team/members/{id}/role" => change_role,
    POST "/team/members/{id}/permissions" => permissions,
    POST "/team/members/{id}/remove" => remove,
    POST "/team/members/{id}/make-owner" => make_owner,
    POST "/team/leave" => leave,
    POST "/team/step-down" => step_down,
}

/// What the team page shows, read in one go.
struct TeamData {
    members: Vec<team::MemberRow>,
    invitations: Vec<invitations::OpenInvitation>,
    seats: Seats,
    my_role: Role,
}

/// The team's data, and with `with_shell` the page shell's, in one checkout.
async fn load(
    state: &AppState,
    cur: &CurrentOrg,
    with_shell: bool,
) -> AppResult<(TeamData, Option<ShellData>)> {
    let (tenant, now) = (cur.tenant(), cur.now());
    let (org, sub) = (cur.ctx.org.clone(), cur.ctx.subscription.clone());
    // Three statements in one checkout: members, invitations, and the rest
    // (seats, limits, role, shell).
    let (members, invitations, side) = state
        .db
        .run(move |conn| -> AppResult<_> {
            let members = team::members(conn, &tenant)?;
            let invitations = invitations::open(conn, &tenant)?;
            let side = pages::workspace_side(conn, &tenant, &org, &sub, now)?;
            Ok((members, invitations, side))
        })
        .await?;
    let data = TeamData {
        members,
        invitations,
        seats: Seats {
            used: side.seats_used,
            limit: side.effective.limits.get(LimitKind::Users),
            plan_name: side.effective.plan.name(),
        },
        my_role: side.my_role.ok_or(DbError::NoOrganization)?,
    };
    Ok((data, with_shell.then_some(side.shell)))
}

/// Renders the team page (or its `#team` fragment).
async fn render(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    invite: InviteValues,
    flash: Option<Flash>,
    reply: Reply,
) -> AppResult<HttpResponse> {
    let (data, shell) = load(state, cur, !wants_fragment(req)).await?;
    let v = TeamView {
        csrf: &cur.user.csrf,
        org_name: &cur.ctx.org.name,
        me: cur.user_id(),
        my_role: data.my_role,
        email_verified: cur.user.session.user.email_verified_at.is_some(),
        members: &data.members,
        invitations: &data.invitations,
        seats: data.seats.clone(),
        tz: cur.ctx.org.tz(),
        now: cur.now(),
        invite,
    };
    Ok(match shell {
        Some(shell) => reply.page_with(&cur.user, req, (Nav::Team, "Team"), view::body(&v), shell),
        None => reply.fragment(view::fragment(&v, flash.as_ref())),
    })
}

async fn index(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    render(&state, &cur, &req, InviteValues::default(), None, Reply::Ok).await
}

/// After a successful action: the fragment with a success message (HTMX),
/// or a 303 back to /team (plain form).
async fn done(
    state: &AppState,
    cur: &CurrentOrg,
    req: &HttpRequest,
    message: String,
    seats_changed: bool,
) -> AppResult<HttpResponse> {
    if !wants_fragment(req) {
        return Ok(redirect_with_flash(req, "/team", &message));
    }
    let flash = Flash {
        kind: FlashKind::Success,
        text: message,
    };
    let res = render(
        state,
        cur,
        req,
        InviteValues::default(),
        Some(flash),
        Reply::Ok,
    )
    .await?;
    Ok(if seats_changed {
        usage_changed(res)
    } else {
        res
    })
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

fn validate_invite(form: &InviteForm, actor: Role) -> Result<(String, Role), FieldErrors> {
    let mut errors = FieldErrors::new();
    let email = forms::email(&form.email)
        .map_err(|e| errors.add("email", e))
        .ok();
    let role = match form.role.parse::<Role>() {
        Ok(role) => membership::check_invite(actor, role)
            .map(|_| role)
            .map_err(|r| errors.add("role", r.message()))
            .ok(),
        Err(_) => {
            errors.add("role", "Choose Admin, Member or Viewer.");
            None
        }
    };
    match (email, role) {
        (Some(email), Some(role)) => Ok((email, role)),
        _ => Err(errors),
    }
}

async fn invite(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    form: web::Form<InviteForm>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    cur.require(Action::ManageMembers)?;
    cur.require_verified_email()?;
    let mut values = InviteValues {
        email: form.email.chars().take(300).collect(),
        role: form.role.chars().take(20).collect(),
        ..InviteValues::default()
    };
    let (email, role) = match validate_invite(&form, cur.role()) {
        Ok(valid) => valid,
        Err(errors) => {
            values.errors = errors;
            return render(&state, &cur, &req, values, None, Reply::Invalid).await;
        }
    };
    let (tenant, mail) = (cur.tenant(), MailContext::of(&state, &cur));
    let to = email.clone();
    let outcome = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let created = invitations::create(conn, &tenant, &to, role, now)?;
            if let Created::Invitation {
                token, expires_at, ..
            } = &created
            {
                mail.enqueue(conn, &to, role, token, *expires_at, now)?;
            }
            Ok(created)
        })
        .await;
    let problem = match outcome {
        Ok(Created::Invitation { .. }) => {
            return done(
                &state,
                &cur,
                &req,
                format!("Invitation sent to {email}."),
                true,
            )
            .await
        }
        Ok(Created::AlreadyMember) => format!("{email} is already a member of this organization."),
        Ok(Created::AlreadyInvited) => {
            format!("{email} already has an open invitation. Resend it from the list instead.")
        }
        Err(AppError::LimitReached(message)) => {
            values.limit_message = Some(message);
            return render(&state, &cur, &req, values, None, Reply::OverLimit).await;
        }
        Err(e) => return Err(e),
    };
    values.errors.add("email", problem);
    render(&state, &cur, &req, values, None, Reply::Invalid).await
}

async fn resend(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<InvitationId>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    cur.require(Action::ManageMembers)?;
    cur.require_verified_email()?;
    let (tenant, mail) = (cur.tenant(), MailContext::of(&state, &cur));
    let id = path.into_inner();
    let inv: Invitation = state
        .db
        .tx(move |conn| -> AppResult<_> {
            let (inv, token) = invitations::resend(conn, &tenant, id, now)?;
            mail.enqueue(conn, &inv.email, inv.role, &token, inv.expires_at, now)?;
            Ok(inv)
        })
        .await?;
    let message = format!(
        "A new link was sent to {}; the old one no longer works.",
        inv.email
    );
    done(&state, &cur, &req, message, true).await
}

async fn revoke(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<InvitationId>,
) -> AppResult<HttpResponse> {
    let now = cur.now();
    let tenant = cur.tenant_for(Action::ManageMembers)?;
    let id = path.into_inner();
    let email = state
        .db
        .tx(move |conn| invitations::revoke(conn, &tenant, id, now))
        .await?;
    done(
        &state,
        &cur,
        &req,
        format!("The invitation for {email} was revoked."),
        true,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

async fn change_role(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<UserId>,
    form: web::Form<RoleForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageMembers)?;
    let role: Role = form
        .role
        .parse()
        .map_err(|_| AppError::validation("Choose a role from the list."))?;
    if role == Role::Owner {
        cur.require(Action::TransferOwnership)?;
    }
    let (tenant, target) = (cur.tenant(), path.into_inner());
    let now = cur.now();
    state
        .db
        .tx(move |conn| match role {
            Role::Owner => team::make_owner(conn, &tenant, target).map(|_| ()),
            _ => team::change_role(conn, &tenant, target, role, now).map(|_| ()),
        })
        .await?;
    let message = format!("Role changed to {}.", role.label());
    done(&state, &cur, &req, message, false).await
}

#[derive(Debug, Deserialize)]
pub struct PermissionsForm {
    can_manage_leads: Option<String>,
    can_send_messages: Option<String>,
    can_manage_templates: Option<String>,
}

async fn permissions(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<UserId>,
    form: web::Form<PermissionsForm>,
) -> AppResult<HttpResponse> {
    cur.require(Action::ManageMembers)?;
    let flags = MemberFlags {
        can_manage_leads: form.can_manage_leads.is_some(),
        can_send_messages: form.can_send_messages.is_some(),
        can_manage_templates: form.can_manage_templates.is_some(),
    };
    let (tenant, target) = (cur.tenant(), path.into_inner());
    state
        .db
        .tx(move |conn| team::set_permissions(conn, &tenant, target, flags))
        .await?;
    done(&state, &cur, &req, "Permissions saved.".into(), false).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RemoveForm {
    /// The member who takes over the removed member's leads; empty for nobody.
    leads_to: String,
}

async fn remove(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<UserId>,
    form: web::Form<RemoveForm>,
) -> AppResult<HttpResponse> {
    let (tenant, now) = (cur.tenant_for(Action::ManageMembers)?, cur.now());
    let leads_to = match form.leads_to.trim() {
        "" => None,
        id => Some(id.parse::<UserId>().map_err(|_| {
            AppError::validation("Choose a member from the list to take over the leads.")
        })?),
    };
    let target = path.into_inner();
    let name = state
        .db
        .tx(move |conn| team::remove(conn, &tenant, target, leads_to, now))
        .await?;
    let message = format!("{name} was removed from the organization.");
    done(&state, &cur, &req, message, true).await
}

async fn make_owner(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    path: web::Path<UserId>,
) -> AppResult<HttpResponse> {
    let change = MemberChange {
        action: Action::TransferOwnership,
        apply: |conn, tenant, target, _| team::make_owner(conn, tenant, target),
        message: |name| format!("{name} is now an owner."),
        seats_changed: false,
    };
    change.run(&state, &cur, &req, path.into_inner()).await
}

/// A change to one member that answers with the member's name: who may make
/// it, what it does, and what the page then says.
struct MemberChange {
    action: Action,
    apply: fn(&mut PgConnection, &Tenant, UserId, DateTime<Utc>) -> DbResult<String>,
    message: fn(String) -> String,
    /// A seat frees up (the usage meter changes).
    seats_changed: bool,
}

impl MemberChange {
    async fn run(
        self,
        state: &AppState,
        cur: &CurrentOrg,
        req: &HttpRequest,
        target: UserId,
    ) -> AppResult<HttpResponse> {
        let (tenant, now) = (cur.tenant_for(self.action)?, cur.now());
        let apply = self.apply;
        let name = state
            .db
            .tx(move |conn| apply(conn, &tenant, target, now))
            .await?;
        done(state, cur, req, (self.message)(name), self.seats_changed).await
    }
}

async fn step_down(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let tenant = cur.tenant_for(Action::TransferOwnership)?;
    let now = cur.now();
    state
        .db
        .tx(move |conn| team::step_down(conn, &tenant, now))
        .await?;
    done(
        &state,
        &cur,
        &req,
        "You stepped down and are now an admin.".into(),
        false,
    )
    .await
}

/// Leaving ends the user's access at once, so both paths go to the
/// organization picker (HTMX through `HX-Redirect`).
async fn leave(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let (tenant, now) = (cur.tenant(), cur.now());
    state
        .db
        .tx(move |conn| team::leave(conn, &tenant, now))
        .await?;
    let message = format!("You left {}.", cur.ctx.org.name);
    Ok(redirect_with_flash(&req, "/orgs", &message))
}
