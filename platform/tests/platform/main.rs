//! The all-in-one platform: the delivery conformance suite, run on both transports, the
//! embedded transport's crash test, a consumer's full disk, and the traces of both transports.

mod asyncapi;
mod conformance;
mod crash;
mod disk_full;
mod embedded;
mod first_start;
mod helpers;
mod traces;
