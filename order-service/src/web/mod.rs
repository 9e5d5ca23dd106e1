//! The web page: server-rendered HTML for people, beside the JSON API.
//!
//! Every page works without JavaScript; `assets/app.js` only adds and removes item rows in the
//! order form and follows the delivery timeline live. Changes go through the same
//! [`OrderStore`](crate::store::OrderStore) methods and the same body conversions as the API,
//! as POST forms answered with a 303 redirect (Post/Redirect/Get). The API's `http::routes` mounts
//! [`routes`]; what the page shares with the API it takes from the domain and the store, never
//! from `http`, so the two are not a circle.
//!
//! # Layout
//!
//! - `layout`: the page shell (head, header, main) and small shared pieces (times, statuses).
//! - `error`: [`WebError`](self::error::WebError), every error as an HTML page.
//! - `list`: `GET /ui/orders`, the paginated, filtered order list.
//! - `order_page`: `GET /ui/orders/{id}`, one order with its items and delivery timeline.
//! - `timeline`: the delivery timeline fragment, shared by the order page and the live stream.
//! - `live`: `GET /ui/orders/{id}/live`, server-sent events carrying that fragment.
//! - `form_data`: a submitted order form, and its conversion into `NewOrder` / `OrderPatch`.
//! - `form`: the create and edit form, with errors beside their fields.
//! - `edit`: the create and update routes.
//! - `delete`: the delete confirmation and the deletion.
//! - `assets`: `app.js` and `app.css`, embedded in the binary.

mod assets;
mod csrf;
mod delete;
mod edit;
mod error;
mod form;
mod form_data;
mod layout;
mod list;
mod live;
mod order_page;
mod provider_sign_in;
mod sign_in;
mod timeline;

pub use self::live::Stopping;

use actix_web::http::header::LOCATION;
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, ResponseError, guard, web};
use shared_events::app::auth::authentication::PAGE_CONTENT_SECURITY_POLICY;
use shared_events::app::routes::allowing_with;

use self::error::WebError;

/// Where the page lives.
pub(crate) const PREFIX: &str = "/ui";

/// Registers the page's routes: `GET /` and everything under `/ui/`.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/")
                .route(read().to(to_the_list))
                .default_service(allowing("GET, HEAD")),
        )
        .service(
            web::scope(PREFIX)
                .wrap(
                    DefaultHeaders::new()
                        .add(("Content-Security-Policy", PAGE_CONTENT_SECURITY_POLICY))
                        .add(("X-Content-Type-Options", "nosniff")),
                )
                // The API answers a bad query in JSON; people get a page.
                .app_data(
                    web::QueryConfig::default().error_handler(|error, _| {
                        WebError::Unprocessable(error.to_string()).into()
                    }),
                )
                .configure(page_routes)
                .default_service(web::to(no_such_page)),
        );
}

fn page_routes(config: &mut web::ServiceConfig) {
    let resource =
        |path: &str, methods: &'static str| web::resource(path).default_service(allowing(methods));
    config
        .service(resource("", "GET, HEAD").route(read().to(to_the_list)))
        .service(resource("/", "GET, HEAD").route(read().to(to_the_list)))
        .service(
            resource("/orders", "GET, HEAD, POST")
                .route(read().to(list::list))
                .route(web::post().to(edit::create)),
        )
        // Before `/orders/{id}`, which would otherwise take `new` for an id.
        .service(resource("/orders/new", "GET, HEAD").route(read().to(edit::new_form)))
        .service(
            resource("/orders/{id}", "GET, HEAD, POST")
                .route(read().to(order_page::show))
                .route(web::post().to(edit::update)),
        )
        .service(resource("/orders/{id}/edit", "GET, HEAD").route(read().to(edit::edit_form)))
        .service(
            resource("/orders/{id}/delete", "GET, HEAD, POST")
                .route(read().to(delete::confirm))
                .route(web::post().to(delete::delete)),
        )
        // GET only: a HEAD would open a stream that never sends its body.
        .service(resource("/orders/{id}/live", "GET").route(web::get().to(live::stream)))
        .service(
            resource("/sign-in", "GET, HEAD, POST")
                .route(read().to(sign_in::form))
                .route(web::post().to(sign_in::sign_in)),
        )
        .service(
            resource("/sign-in/provider", "GET, HEAD").route(read().to(provider_sign_in::start)),
        )
        .service(
            resource("/sign-in/callback", "GET, HEAD").route(read().to(provider_sign_in::callback)),
        )
        .service(
            resource("/sign-out", "GET, HEAD, POST")
                .route(read().to(sign_in::confirm_sign_out))
                .route(web::post().to(sign_in::sign_out)),
        )
        .service(resource("/assets/app.js", "GET, HEAD").route(read().to(assets::script)))
        .service(resource("/assets/app.css", "GET, HEAD").route(read().to(assets::stylesheet)));
}

/// A route for GET and HEAD (actix sends a HEAD the GET's headers without the body).
fn read() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The path of the order list.
fn list_path() -> String {
    format!("{PREFIX}/orders")
}

/// The path of an order's page, or of one of its sub-pages (`suffix` such as `/edit`).
fn order_path(id: uuid::Uuid, suffix: &str) -> String {
    format!("{PREFIX}/orders/{id}{suffix}")
}

/// A 303 to `location`: after a POST, the browser fetches the result with a GET, so reloading
/// it does not send the form again.
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish()
}

async fn to_the_list() -> HttpResponse {
    see_other(&list_path())
}

async fn no_such_page(request: HttpRequest) -> HttpResponse {
    WebError::NotFound(format!("There is no page at {}.", request.path())).error_response()
}

/// The fallback of a resource: an HTML 405 with the `Allow` header RFC 9110 asks for.
fn allowing(methods: &'static str) -> actix_web::Route {
    allowing_with(methods, |request| {
        WebError::MethodNotAllowed(format!(
            "{} is not allowed on {}.",
            request.method(),
            request.path()
        ))
        .error_response()
    })
}
