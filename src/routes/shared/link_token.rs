//! The secret token of an emailed link, taken from the link's path
//! (`…/{token}`): handlers write `LinkToken(token): LinkToken`. A path the
//! token cannot be read from answers as any unreadable path does (404).

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

/// The token segment of a link's path, as sent in the mail.
#[derive(Debug)]
pub struct LinkToken(pub String);

impl FromRequest for LinkToken {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let path = web::Path::<String>::from_request(req, payload).into_inner();
        ready(path.map(|p| LinkToken(p.into_inner())))
    }
}
