//! The page shell every page shares, and the small pieces several pages show (times, statuses).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, html};
use shared_events::OrderStatus;

use crate::web::{PREFIX, assets, list_path};

/// A whole page: `title` in the tab and `content` in `<main>`.
pub(crate) fn page(title: &str, content: Markup) -> Markup {
    page_with_head(title, html! {}, content)
}

/// [`page`] with `extra` in its head (a `meta` refresh after signing in).
pub(crate) fn page_with_head(title: &str, extra: Markup, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Orders" }
                link rel="stylesheet" href=(assets::url("app.css"));
                script type="module" src=(assets::url("app.js")) {}
                (extra)
            }
            body {
                a.skip-link href="#main" { "Skip to the content" }
                header.site-header {
                    nav aria-label="Main" {
                        a.brand href=(list_path()) { "Orders" }
                        a href={ (list_path()) "/new" } { "New order" }
                        a.sign-out href={ (PREFIX) "/sign-out" } { "Sign out" }
                    }
                }
                // Focusable so that the skip link moves the keyboard focus, not only the view.
                main #main tabindex="-1" { (content) }
            }
        }
    }
}

/// An HTML response with `status`.
pub(crate) fn html_response(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(markup.into_string())
}

/// A point in time, readable and machine-readable.
pub(crate) fn time(at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339_opts(SecondsFormat::Millis, true)) {
            (at.format("%Y-%m-%d %H:%M:%S UTC"))
        }
    }
}

/// An order's status as a badge; the word is always there, the colour only helps.
pub(crate) fn status_badge(status: OrderStatus) -> Markup {
    html! { span class={ "badge status-" (status) } { (status) } }
}
