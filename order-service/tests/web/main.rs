//! The web page through real HTTP: the list, the order page and its live timeline, the forms,
//! deletion, the assets, and errors as HTML pages.

mod helpers;

mod assets;
mod create;
mod delete;
mod edit;
mod errors;
mod list;
mod live;
mod sign_in;
