//! Requests that several suites make the same way, whatever the service.

use std::future::Future;

use serde_json::Value;

use crate::wait::until;

/// Polls `url` until it answers with a success status, failing the test after the deadline.
pub async fn wait_ready(url: &str) {
    let client = reqwest::Client::new();
    until(url, || async {
        client
            .get(url)
            .send()
            .await
            .ok()
            .filter(|response| response.status().is_success())
            .map(|_| ())
    })
    .await;
}

/// `GET url` as JSON; `None` while the service does not answer, answers an error, or not JSON.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// Every item under `key` of a list paged by `next_cursor`: `fetch` gets each page's query
/// (`limit=N`, then `limit=N&cursor=C`) and returns that page, checked as the caller needs; a
/// page without `key` adds nothing.
pub async fn all_pages<F, Fut>(limit: usize, key: &str, mut fetch: F) -> Vec<Value>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Value>,
{
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("limit={limit}&cursor={cursor}"),
            None => format!("limit={limit}"),
        };
        let page = fetch(query).await;
        items.extend(page[key].as_array().into_iter().flatten().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// `GET url`, failing the test when no answer comes.
pub async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).send().await.expect("an answer to GET")
}

/// The `field` of every object in the array `value[list]`, as strings.
pub fn strings<'a>(value: &'a Value, list: &str, field: &str) -> Vec<&'a str> {
    value[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} is an array: {value}"))
        .iter()
        .map(|item| {
            item[field]
                .as_str()
                .unwrap_or_else(|| panic!("{list}[].{field} is a string: {item}"))
        })
        .collect()
}

/// Sends the head of a `method` request to `url` (`http://host:port/path`) announcing a
/// `declared`-byte body of `content_type`, then only `sent` of it, and waits up to `patience` for
/// an answer; its status (such as 408), or `None` if none came.
pub async fn trickle_body(
    method: &str,
    url: &str,
    content_type: &str,
    declared: usize,
    sent: &[u8],
    patience: std::time::Duration,
) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let parsed = url::Url::parse(url).expect("a URL");
    let authority = format!(
        "{}:{}",
        parsed.host_str().expect("a host"),
        parsed.port_or_known_default().expect("a port")
    );
    let mut connection = tokio::net::TcpStream::connect(&authority)
        .await
        .expect("the server accepts a connection");
    let head = format!(
        "{method} {} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {declared}\r\n\r\n",
        parsed.path()
    );
    connection
        .write_all(head.as_bytes())
        .await
        .expect("the head is sent");
    connection
        .write_all(sent)
        .await
        .expect("part of the body is sent");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(patience, async {
        while !answer.windows(2).any(|window| window == b"\r\n") {
            match connection.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => answer.extend_from_slice(&buffer[..read]),
            }
        }
    })
    .await;
    read.ok()?;
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
}
