//! Deleting one's own account, with the password. Refused (nothing changes)
//! while the user is the last OWNER of an organization that has other
//! members; organizations where they are the only member go with them.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::reauth;
use crate::auth::session as auth_session;
use crate::auth::CurrentUser;
use crate::db::account_deletion::{self, Deleted, Fate};
use crate::error::AppResult;
use crate::routes::html_response;
use crate::routes::shared::account_card::{one_error, Answer};
use crate::state::AppState;
use crate::views::account::{self as view, Card};

route_table! {
    POST "/account/delete" => delete,
    GET "/account/deleted" => deleted,
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    password: String,
}

async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    session: Session,
    form: web::Form<DeleteForm>,
) -> AppResult<HttpResponse> {
    let answer = Answer::new(&state, &user, &req);
    let form = form.into_inner();
    if form.password.is_empty() {
        let message = "Enter your password to delete your account.";
        let refusal = one_error("password", message, StatusCode::UNPROCESSABLE_ENTITY);
        return answer.refused(Card::Delete, refusal).await;
    }
    if let Err(refusal) = reauth::confirm(&state, &user, form.password, "password").await? {
        return answer.refused(Card::Delete, refusal).await;
    }
    let (id, now) = (user.id(), user.now);
    let result = state
        .db
        .tx(move |conn| account_deletion::delete(conn, id, now))
        .await?;
    match result {
        Deleted::Blocked(plan) => {
            let names: Vec<&str> = plan
                .with_fate(Fate::Blocks)
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            let message = format!(
                "Your account was not deleted: you are the last owner of {}. Make another member an owner first.",
                names.join(", ")
            );
            let refusal = one_error("_form", &message, StatusCode::CONFLICT);
            answer.refused(Card::Delete, refusal).await
        }
        Deleted::Done => {
            tracing::info!(user = %id, "account deleted");
            auth_session::end(&session);
            Ok(crate::routes::redirect(&req, "/account/deleted"))
        }
    }
}

async fn deleted(req: HttpRequest) -> AppResult<HttpResponse> {
    Ok(html_response(&req, view::deleted_page()))
}
