//! The load generator's own ceiling: the same client against a server that answers every
//! request with a canned 201 at once, in this process. What the generator costs shows here, and
//! a service measured near this rate is limited by the generator, not by itself.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::load::{ClosedLoad, LoadResult, run_closed};

/// Drives a canned-201 server in this process with `load` (its address is replaced).
pub async fn measure(mut load: ClosedLoad) -> anyhow::Result<LoadResult> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .context("failed to bind the canned server")?;
    load.addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(answer);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let result = run_closed(&load).await;
    server.abort();
    result
}

/// Reads the body (as a real server must) and answers 201 with a small order-like body.
async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Full::new(Bytes::from_static(
        br#"{"order_id":"01a20f26-7649-75d2-be62-7d324c60c434","status":"pending","version":1}"#,
    )));
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}
