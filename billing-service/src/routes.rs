//! The HTTP API: invoices, one page or one order at a time, and the probes.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared_events::app::api_error::ApiError;
use shared_events::app::error_envelope::ErrorEnvelope;
use shared_events::app::openapi::documents;
use shared_events::app::paging::{page_params, query_config};
use shared_events::app::replica_health::ReplicaHealth;
use shared_events::app::routes::{allowing, probes};
use shared_events::app::strict_query::StrictQuery;
use shared_events::contract::page_cursor::PageCursor;
use shared_events::runtime::shards::ShardLedgers;
use shared_events::storage::durable_state::DurableStateError;
use uuid::Uuid;

use crate::ledger::{Invoice, InvoiceLedger};
use crate::openapi;

/// The cursors of `GET /invoices`: the order id of the last invoice shown.
const CURSOR: PageCursor = PageCursor::new("i1:");

/// The query of `GET /invoices`; unknown parameters are refused so that typos do not pass
/// silently.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of invoices, newest order first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct InvoicePage {
    /// The invoices.
    invoices: Vec<Invoice>,
    /// The cursor of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// Registers every route of the service.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(query_config())
        .service(
            web::resource("/invoices")
                .route(web::get().to(list))
                .default_service(allowing("GET")),
        )
        .service(
            web::resource("/invoices/{order_id}")
                .route(web::get().to(get))
                .default_service(allowing("GET")),
        )
        .configure(|config| probes(config, ready))
        .configure(|config| documents(config, openapi::document()));
}

/// `GET /invoices?limit=&cursor=`: a page of invoices, newest order first, over every shard.
#[utoipa::path(
    get,
    path = "/invoices",
    operation_id = "listInvoices",
    tag = "invoices",
    params(ListParams),
    responses(
        (status = 200, description = "A page of invoices, newest order first.", body = InvoicePage),
        (status = 400, description = "The query string is not UTF-8 once its percent-escapes are decoded.", body = ErrorEnvelope),
        (status = 422, description = "A parameter breaks a rule, is unknown or repeated (`field` names it).", body = ErrorEnvelope),
        (status = 503, description = "A shard's invoices cannot be read now.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn list(
    params: StrictQuery<ListParams>,
    ledgers: web::Data<ShardLedgers<InvoiceLedger>>,
) -> Result<HttpResponse, ApiError> {
    let (before, limit) = page_params(params.limit.as_deref(), params.cursor.as_deref(), &CURSOR)?;
    let pages = ledgers
        .read_each(|ledger| ledger.page(before, limit))
        .map_err(unreadable)?;
    let page = InvoiceLedger::merge(pages, limit);
    Ok(HttpResponse::Ok().json(InvoicePage {
        invoices: page.invoices,
        next_cursor: page.next.map(|last| CURSOR.encode(last)),
    }))
}

/// `GET /invoices/{order_id}`: 404 if the order was never billed (or the id is not a UUID).
#[utoipa::path(
    get,
    path = "/invoices/{order_id}",
    operation_id = "getInvoice",
    tag = "invoices",
    params(("order_id" = String, Path, description = "The order's id (a UUID; any other text names no invoice).")),
    responses(
        (status = 200, description = "The order's invoice.", body = Invoice),
        (status = 404, description = "The order was never billed.", body = ErrorEnvelope),
        (status = 503, description = "The order's shard cannot be read now.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn get(
    order_id: web::Path<String>,
    ledgers: web::Data<ShardLedgers<InvoiceLedger>>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("no invoice for order {order_id}"));
    let id: Uuid = order_id.parse().map_err(|_| not_found())?;
    let invoice = ledgers
        .read_order(id, |ledger| ledger.get(id).cloned())
        .map_err(unreadable)?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(invoice))
}

/// `GET /health/ready`: the replica consumes, and every shard it owns can take changes.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "The replica consumes: `{\"status\": \"ready\", \"invoices\": N}` (`null` while another replica's shard cannot be read).", body = Object),
        (status = 503, description = "The broker is unreachable, the replica owns no shard, or its ledgers or data directory cannot write (a full disk).", body = ErrorEnvelope),
    )
)]
pub(crate) async fn ready(
    replica: web::Data<ReplicaHealth>,
    ledgers: web::Data<ShardLedgers<InvoiceLedger>>,
) -> Result<HttpResponse, ApiError> {
    replica.ready()?;
    if !ledgers.is_writable() {
        return Err(ApiError::Unavailable(format!(
            "the invoice ledger cannot write: {}",
            DurableStateError::Failed
        )));
    }
    // A shard of another replica that cannot be read now is that replica's concern, not a
    // reason to take this one out of service: the count is left out instead.
    let invoices: Option<usize> = ledgers
        .read_each(InvoiceLedger::len)
        .ok()
        .map(|counts| counts.into_iter().sum());
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "invoices": invoices })))
}

/// A shard's ledger cannot be read: the service cannot answer now.
fn unreadable(error: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("the invoices cannot be read: {error}"))
}
