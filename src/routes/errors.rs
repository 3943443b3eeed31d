//! Errors for signed-in people render inside the app shell (navigation,
//! organization switcher, notices) instead of the public layout with
//! "Sign in": a wrong link or a page they may not see should not look like
//! being signed out.
//!
//! This middleware sits inside `identity`, so the shell's queries run behind
//! the same tenant wall as the handler that failed.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, ResponseError};

use crate::auth::CurrentUser;
use crate::error::{is_fragment_request, AppError};
use crate::state::AppState;
use crate::views;

/// Re-renders an error page inside the app shell when the request has a
/// signed-in session and wants a whole page (HTMX fragments keep their
/// alert form, redirects stay redirects).
pub async fn in_app_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(err) = page_error(&res) else {
        return Ok(res);
    };
    let request = res.request().clone();
    let Ok(user) = CurrentUser::extract(&request).await else {
        return Ok(res);
    };
    let Some(state) = request.app_data::<web::Data<AppState>>() else {
        return Ok(res);
    };
    // The shell needs the database; when it cannot be built (the database
    // is what failed), the plain error page already in hand is the answer.
    let Ok(shell) = super::shell(state, &user, &request).await else {
        return Ok(res);
    };
    let (title, message) = err.describe();
    let body =
        views::errors::app_page(&shell, err.status_code().as_u16(), title, &message).into_string();
    Ok(res.map_body(|_, _| BoxBody::new(body)))
}

/// The `AppError` behind a full-page error response, if that is what `res` is.
fn page_error(res: &ServiceResponse<BoxBody>) -> Option<AppError> {
    if is_fragment_request(res.request()) || res.request().path().starts_with("/api/") {
        return None;
    }
    let err = res.response().error()?.as_error::<AppError>()?;
    err.renders_page().then(|| err.clone())
}
