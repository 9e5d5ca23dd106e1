//! The web page: server-rendered HTML for people, beside the JSON API.

use actix_web::web;

/// Registers the page's routes.
pub fn routes(_config: &mut web::ServiceConfig) {}
