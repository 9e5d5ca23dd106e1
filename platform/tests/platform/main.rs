//! The all-in-one platform: the delivery conformance suite, run on both transports, and the
//! embedded transport's crash test.

mod conformance;
mod crash;
mod embedded;
mod helpers;
