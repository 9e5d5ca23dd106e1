//! scratch
use crate::helpers::spawn_app;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn explore() {
    let app = spawn_app().await;
    for (m, path) in [("POST", "/health/live"), ("DELETE", "/orders"), ("HEAD", "/orders")] {
        let r = app.client.request(m.parse().unwrap(), format!("{}{path}", app.address)).send().await.unwrap();
        eprintln!("{m} {path} => {} {:?} {}", r.status(), r.headers().clone(), r.text().await.unwrap());
    }
    for size in [100usize, 70000] {
        let mut s = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
        let body = format!("{{\"customer_name\":\"{}\",\"items\":[{{\"product\":\"w\",\"quantity\":1,\"amount\":1}}]}}", "x".repeat(size));
        let mut req = "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_string();
        for c in body.as_bytes().chunks(4096) { req.push_str(&format!("{:x}\r\n{}\r\n", c.len(), std::str::from_utf8(c).unwrap())); }
        req.push_str("0\r\n\r\n");
        let w = s.write_all(req.as_bytes()).await;
        let mut out = Vec::new();
        let rd = s.read_to_end(&mut out).await;
        eprintln!("chunked {size}: write {w:?} read {rd:?} {}", String::from_utf8_lossy(&out));
    }
}
