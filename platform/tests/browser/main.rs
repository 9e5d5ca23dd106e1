//! The web page in real headless Chromium, driven over WebDriver: a clerk's whole day with one
//! order (create, list, watch its deliveries live, change, delete), and the page on a phone.
//!
//! Each test starts the platform in process on the embedded transport, its own `chromedriver`
//! on a free port and a fresh Chromium profile, and saves a screenshot of every step under
//! `target/screenshots/`. Chromium and its driver must be installed: `scripts/ensure-chromium`.
//!
//! # Layout
//!
//! - `helpers`: the platform under test, started and stopped.
//! - `browser`: `chromedriver` and the WebDriver session, with the few actions the tests use.
//! - `order_flow`: one order from the new-order form to its deletion.
//! - `cross_site`: another origin's page posting the forms changes nothing.
//! - `phone`: the list, the forms and an order on a phone-sized window.
//! - `signed_in`: once tokens exist, signing in by link, the forms with the session, other
//!   origins still refused, signing out.

mod browser;
mod cross_site;
mod helpers;
mod order_flow;
mod phone;
mod provider_sign_in;
mod signed_in;
