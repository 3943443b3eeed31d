//! The account page and its profile card (the name). The other cards answer
//! from their own modules (`account_email`, `password`, `account_deletion`)
//! through `account_card`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::db::accounts;
use crate::error::AppResult;
use crate::forms;
use crate::routes::shared::account_card::{load, one_error, Answer};
use crate::routes::user_page;
use crate::state::AppState;
use crate::views::account::{self as view, Card, Outcome};
use crate::views::layout::Nav;

route_table! {
    GET "/account" => show,
    POST "/account" => update_name,
}

async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let data = load(&state, user.id(), user.now).await?;
    let body = view::body(&data, &user.csrf, None);
    user_page(&state, &user, &req, Nav::Account, "Your account", body).await
}

#[derive(Debug, Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

async fn update_name(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    form: web::Form<NameForm>,
) -> AppResult<HttpResponse> {
    let now = user.now;
    let answer = Answer::new(&state, &user, &req);
    let checked = forms::text(&form.name, "Name", 1, 100)
        .and_then(|n| forms::no_markup(&n, "Name").map(|_| n));
    let name = match checked {
        Ok(n) => n,
        Err(e) => {
            let (errors, status) = one_error("name", &e, StatusCode::UNPROCESSABLE_ENTITY);
            let outcome = Outcome::failed(Card::Profile, errors, &form.name);
            return answer.with(outcome, status).await;
        }
    };
    let id = user.id();
    state
        .db
        .run(move |conn| accounts::set_name(conn, id, &name, now))
        .await?;
    answer.done(Card::Profile, "Your name is saved.").await
}
