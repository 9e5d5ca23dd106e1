//! The HTTP API: stock levels, counts of stock on hand, and the probes.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use shared_events::app::api_error::{ApiError, named_field};
use shared_events::app::error_envelope::ErrorEnvelope;
use shared_events::app::openapi::documents;
use shared_events::app::replica_health::ReplicaHealth;
use shared_events::app::routes::{allowing, probes};
use shared_events::runtime::shards::ShardLedgers;
use shared_events::storage::durable_state::DurableStateError;

use crate::ledger::StockLedger;
use crate::on_hand::{Count, OnHand, OnHandBook, StockLevel};
use crate::openapi;

/// The largest accepted request body, in bytes: a count is a few dozen.
const BODY_LIMIT: usize = 4 * 1024;

/// The body of `PUT /stock/{product}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountBody {
    /// Units on hand: a whole number from 0 to 9223372036854775807.
    #[schema(minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    pub on_hand: u64,
}

/// Every product counted or reserved.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct StockList {
    /// Sorted by name.
    products: Vec<StockLevel>,
}

/// Registers every route of the service.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(shared_events::app::routes::json_config(BODY_LIMIT))
        .service(
            web::resource("/stock")
                .route(web::get().to(list))
                .default_service(allowing("GET")),
        )
        .service(
            web::resource("/stock/{product}")
                .route(web::get().to(get))
                .route(web::put().to(count))
                .default_service(allowing("GET, PUT")),
        )
        .configure(|config| probes(config, ready))
        .configure(|config| documents(config, openapi::document()));
}

/// `GET /stock`: every product counted or reserved, sorted by name.
#[utoipa::path(
    get,
    path = "/stock",
    operation_id = "listStock",
    tag = "stock",
    responses(
        (status = 200, description = "Every product counted or reserved, sorted by name.", body = StockList),
        (status = 503, description = "The stock cannot be read now.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn list(
    ledgers: web::Data<ShardLedgers<StockLedger>>,
    book: web::Data<OnHandBook>,
) -> Result<HttpResponse, ApiError> {
    let counts = book.counts().map_err(unreadable)?;
    let mut reserved: BTreeMap<String, u64> =
        counts.keys().map(|product| (product.clone(), 0)).collect();
    for shard in ledgers
        .read_each(|ledger| ledger.reservations().clone())
        .map_err(unreadable)?
    {
        for (product, units) in shard {
            *reserved.entry(product).or_default() += units;
        }
    }
    let products = reserved
        .iter()
        .map(|(product, units)| StockLevel::new(product, on_hand(&counts, product), *units))
        .collect();
    Ok(HttpResponse::Ok().json(StockList { products }))
}

/// `GET /stock/{product}` (the name percent-decoded): 404 if no order or count named it yet.
#[utoipa::path(
    get,
    path = "/stock/{product}",
    operation_id = "getStock",
    tag = "stock",
    params(("product" = String, Path, description = "The product's name as orders spell it, percent-encoded.")),
    responses(
        (status = 200, description = "The product's stock.", body = StockLevel),
        (status = 404, description = "No order or count has named the product yet.", body = ErrorEnvelope),
        (status = 503, description = "The stock cannot be read now.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn get(
    product: web::Path<String>,
    ledgers: web::Data<ShardLedgers<StockLedger>>,
    book: web::Data<OnHandBook>,
) -> Result<HttpResponse, ApiError> {
    let counts = book.counts().map_err(unreadable)?;
    let per_shard = ledgers
        .read_each(|ledger| {
            ledger
                .reservations()
                .contains_key(product.as_str())
                .then(|| ledger.reserved(&product))
        })
        .map_err(unreadable)?;
    if !counts.contains_key(product.as_str()) && per_shard.iter().all(Option::is_none) {
        return Err(ApiError::NotFound(format!(
            "no stock of `{product}` is known"
        )));
    }
    let reserved = per_shard.into_iter().flatten().sum();
    Ok(HttpResponse::Ok().json(StockLevel::new(
        &product,
        on_hand(&counts, &product),
        reserved,
    )))
}

/// `PUT /stock/{product}` with `{"on_hand": N}`: sets the units on hand, once durable.
#[utoipa::path(
    put,
    path = "/stock/{product}",
    operation_id = "countStock",
    tag = "stock",
    params(("product" = String, Path, description = "The product's name as orders spell it, percent-encoded.")),
    request_body(content = CountBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The product's stock after the count, once durable.", body = StockLevel),
        (status = 400, description = "Malformed JSON or a content type other than JSON.", body = ErrorEnvelope),
        (status = 413, description = "The body is over 4 KiB.", body = ErrorEnvelope),
        (status = 422, description = "`on_hand` is not a whole number from 0 to 9223372036854775807, or the body is not that one field (`field` names what is wrong).", body = ErrorEnvelope),
        (status = 503, description = "The count cannot be written now.", body = ErrorEnvelope),
    )
)]
pub(crate) async fn count(
    product: web::Path<String>,
    body: web::Json<Map<String, Value>>,
    ledgers: web::Data<ShardLedgers<StockLedger>>,
    book: web::Data<OnHandBook>,
) -> Result<HttpResponse, ApiError> {
    // Read as an object first: serde would also take a struct from an array (`[3]`).
    let invalid = |message: String| ApiError::InvalidField {
        field: named_field(&message).unwrap_or("on_hand").to_owned(),
        message,
    };
    let body: CountBody = serde_json::from_value(Value::Object(body.into_inner()))
        .map_err(|error| invalid(error.to_string()))?;
    let on_hand = OnHand::try_from(body.on_hand).map_err(|error| invalid(error.to_string()))?;
    let product = product.into_inner();
    let counted = Count {
        on_hand,
        at: Utc::now(),
    };
    let book = book.into_inner();
    let written = product.clone();
    web::block(move || book.count(&written, counted))
        .await
        .map_err(|error| {
            ApiError::Unavailable(format!("the stock count was interrupted: {error}"))
        })?
        .map_err(|error| {
            ApiError::Unavailable(format!("the stock count cannot be written: {error}"))
        })?;
    let reserved = ledgers
        .read_each(|ledger| ledger.reserved(&product))
        .map_err(unreadable)?
        .into_iter()
        .sum();
    tracing::info!(product = %product, on_hand = on_hand.get(), "stock counted");
    Ok(HttpResponse::Ok().json(StockLevel::new(&product, on_hand, reserved)))
}

/// `GET /health/ready`: the replica consumes, and every shard it owns can take changes.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "The replica consumes: `{\"status\": \"ready\", \"counted_products\": N}`.", body = Object),
        (status = 503, description = "The broker is unreachable, the replica owns no shard, or its ledgers or data directory cannot write (a full disk).", body = ErrorEnvelope),
    )
)]
pub(crate) async fn ready(
    replica: web::Data<ReplicaHealth>,
    ledgers: web::Data<ShardLedgers<StockLedger>>,
    book: web::Data<OnHandBook>,
) -> Result<HttpResponse, ApiError> {
    replica.ready()?;
    if !ledgers.is_writable() {
        return Err(ApiError::Unavailable(format!(
            "the stock ledger cannot write: {}",
            DurableStateError::Failed
        )));
    }
    let products = book.counts().map_err(unreadable)?.len();
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "counted_products": products })))
}

fn on_hand(counts: &BTreeMap<String, Count>, product: &str) -> OnHand {
    counts
        .get(product)
        .map(|count| count.on_hand)
        .unwrap_or_default()
}

/// A shard's ledger or the counts cannot be read: the service cannot answer now.
fn unreadable(error: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("the stock cannot be read: {error}"))
}
