//! Creating and changing orders from the form: `GET /ui/orders/new`, `POST /ui/orders`,
//! `GET /ui/orders/{id}/edit` and `POST /ui/orders/{id}`.
//!
//! A refused form comes back with the entered values and the reason beside the field (422), or
//! above the form when the order's state (409) or a newer version (412) refuses the change.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;
use uuid::Uuid;

use crate::domain::{BodyLimit, ChangeOrigin};
use crate::store::{IfMatch, OrderStore, WriteError};
use crate::web::csrf::CsrfField;
use crate::web::error::{WebError, order_id};
use crate::web::form::{FormKind, Problem, final_page, form_page};
use crate::web::form_data::{OrderForm, read_form};
use crate::web::{layout, order_path, see_other};

/// `GET /ui/orders/new`: an empty form.
pub(crate) async fn new_form(csrf: CsrfField) -> Markup {
    form_page(&FormKind::Create, &OrderForm::default(), None, &csrf)
}

/// `POST /ui/orders`: creates the order and shows it, or shows the form again with the error.
pub(crate) async fn create(
    request: HttpRequest,
    payload: web::Payload,
    store: web::Data<OrderStore>,
    limit: web::Data<BodyLimit>,
    origin: ChangeOrigin,
    csrf: CsrfField,
) -> Result<HttpResponse, WebError> {
    let pairs = read_form::<Vec<(String, String)>>(&request, payload, **limit).await?;
    let form = OrderForm::from_pairs(pairs);
    let order = match form.new_order() {
        Ok(order) => order,
        Err(error) => {
            let problem = Problem::Field(error);
            let page = form_page(&FormKind::Create, &form, Some(&problem), &csrf);
            return Ok(layout::html_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                page,
            ));
        }
    };
    let created = store.create(order, None, origin).await?;
    Ok(see_other(&order_path(created.order.order_id, "")))
}

/// `GET /ui/orders/{id}/edit`: the form filled from the order as it is now.
pub(crate) async fn edit_form(
    id: web::Path<String>,
    store: web::Data<OrderStore>,
    csrf: CsrfField,
) -> Result<Markup, WebError> {
    let id = order_id(&id)?;
    let order = store.get(id).ok_or(WriteError::NotFound(id))?;
    if order.status.is_final() {
        return Ok(final_page(&order));
    }
    Ok(form_page(
        &FormKind::Edit(&order),
        &OrderForm::of(&order),
        None,
        &csrf,
    ))
}

/// `POST /ui/orders/{id}`: applies the change if the order is still at the version the form
/// was made from (`If-Match`), so a stale form cannot overwrite someone else's change.
pub(crate) async fn update(
    request: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    store: web::Data<OrderStore>,
    limit: web::Data<BodyLimit>,
    origin: ChangeOrigin,
    csrf: CsrfField,
) -> Result<HttpResponse, WebError> {
    let id = order_id(&id)?;
    let pairs = read_form::<Vec<(String, String)>>(&request, payload, **limit).await?;
    let form = OrderForm::from_pairs(pairs);
    let current = store.get(id).ok_or(WriteError::NotFound(id))?;
    // Items are on the form only while they may change; otherwise they are not part of it.
    let patch = match form.patch(current.status.allows_item_changes()) {
        Ok(patch) => patch,
        Err(error) => return refused(&store, id, &form, Problem::Field(error), &csrf),
    };
    let condition = form.version.map(|version| IfMatch::Versions(vec![version]));
    match store.update(id, patch, condition, origin).await {
        Ok(order) => Ok(see_other(&order_path(order.order_id, ""))),
        Err(WriteError::Rejected(reason)) => {
            refused(&store, id, &form, Problem::Refused(reason.0), &csrf)
        }
        Err(WriteError::PreconditionFailed { current }) => {
            let problem = Problem::Stale {
                order_id: id,
                current,
            };
            refused(&store, id, &form, problem, &csrf)
        }
        Err(other) => Err(other.into()),
    }
}

/// The edit form again, with what was typed and why it was refused, around the order as it is
/// now (its status decides which statuses and whether items are offered).
fn refused(
    store: &OrderStore,
    id: Uuid,
    form: &OrderForm,
    problem: Problem,
    csrf: &CsrfField,
) -> Result<HttpResponse, WebError> {
    let order = store.get(id).ok_or(WriteError::NotFound(id))?;
    let status = match problem {
        Problem::Field(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Problem::Refused(_) => StatusCode::CONFLICT,
        Problem::Stale { .. } => StatusCode::PRECONDITION_FAILED,
    };
    let page = form_page(&FormKind::Edit(&order), form, Some(&problem), csrf);
    Ok(layout::html_response(status, page))
}
