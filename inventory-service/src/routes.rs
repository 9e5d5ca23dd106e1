//! The HTTP API: stock levels, counts of stock on hand, and the probes.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use shared_events::app::api_error::ApiError;
use shared_events::app::routes::{allowing, probes};
use shared_events::storage::durable_state::{DurableState, DurableStateError};

use crate::ledger::{OnHand, StockLedger, StockLevel};

/// The largest accepted request body, in bytes: a count is a few dozen.
const BODY_LIMIT: usize = 4 * 1024;

/// The body of `PUT /stock/{product}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountBody {
    /// Units on hand: a whole number, at least 0.
    pub on_hand: u64,
}

#[derive(Serialize)]
struct StockList {
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
        .configure(|config| probes(config, ready));
}

/// `GET /stock`: every product the ledger has heard of, sorted by name.
async fn list(ledger: web::Data<DurableState<StockLedger>>) -> HttpResponse {
    let products = ledger.read(StockLedger::levels);
    HttpResponse::Ok().json(StockList { products })
}

/// `GET /stock/{product}` (the name percent-decoded): 404 if no order or count named it yet.
async fn get(
    product: web::Path<String>,
    ledger: web::Data<DurableState<StockLedger>>,
) -> Result<HttpResponse, ApiError> {
    let level = ledger
        .read(|ledger| ledger.level(&product))
        .ok_or_else(|| ApiError::NotFound(format!("no stock of `{product}` is known")))?;
    Ok(HttpResponse::Ok().json(level))
}

/// `PUT /stock/{product}` with `{"on_hand": N}`: sets the units on hand, once durable.
async fn count(
    product: web::Path<String>,
    body: web::Json<Map<String, Value>>,
    ledger: web::Data<DurableState<StockLedger>>,
) -> Result<HttpResponse, ApiError> {
    // Read as an object first: serde would also take a struct from an array (`[3]`).
    let invalid = |message: String| ApiError::Unprocessable {
        code: "invalid_field",
        message,
    };
    let body: CountBody = serde_json::from_value(Value::Object(body.into_inner()))
        .map_err(|error| invalid(error.to_string()))?;
    let on_hand = OnHand::try_from(body.on_hand).map_err(|error| invalid(error.to_string()))?;
    let product = product.into_inner();
    let at = Utc::now();
    let level = ledger
        .transact(move |ledger| ledger.decide_count(&product, on_hand, at))
        .await
        .map_err(|error| {
            ApiError::Unavailable(format!("the stock ledger cannot write: {error}"))
        })?;
    tracing::info!(product = %level.product, on_hand = level.on_hand, "stock counted");
    Ok(HttpResponse::Ok().json(level))
}

/// `GET /health/ready`: the ledger can take changes.
async fn ready(ledger: web::Data<DurableState<StockLedger>>) -> Result<HttpResponse, ApiError> {
    if !ledger.is_writable() {
        return Err(ApiError::Unavailable(format!(
            "the stock ledger cannot write: {}",
            DurableStateError::Failed
        )));
    }
    let products = ledger.read(StockLedger::product_count);
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "products": products })))
}
