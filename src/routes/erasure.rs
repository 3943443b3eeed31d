//! Erasure of a person: `POST /leads/{id}/forget` (docs/product.md, "Data rights"), for members
//! who may manage leads. The work is `db::erasure`; the answer is the lead
//! list with a message that names no one.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentOrg;
use crate::db::erasure;
use crate::domain::roles::Action;
use crate::error::AppResult;
use crate::ids::LeadId;
use crate::routes::redirect_with_flash;
use crate::state::AppState;

route_table! {
    POST "/leads/{id}/forget" => forget,
}

async fn forget(
    state: web::Data<AppState>,
    cur: CurrentOrg,
    req: HttpRequest,
    id: web::Path<LeadId>,
) -> AppResult<HttpResponse> {
    let (tenant, now) = (cur.tenant_for(Action::ManageLeads)?, cur.now());
    let id = id.into_inner();
    state
        .db
        .tx(move |conn| erasure::forget_lead(conn, &tenant, id, now))
        .await?;
    Ok(redirect_with_flash(
        &req,
        "/leads",
        "The lead was forgotten: its data is erased and its address will never be mailed or imported again.",
    ))
}
