//! A mail server that takes a fixed time per message: enough SMTP for lettre (greeting, EHLO or
//! HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), any number of connections at once, and the moment
//! each message was accepted.
//!
//! The notification service opens one connection per email (lettre without its pool), so each
//! message costs the sink a TCP accept and a whole conversation, as it would a real server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A running sink on a free loopback port; stops listening when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

/// What the sink has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkCounts {
    /// Messages accepted (each answered `250` after its data).
    pub messages: usize,
    /// Connections accepted.
    pub connections: usize,
    /// When the first message was accepted.
    pub first: Option<Instant>,
    /// When the last message was accepted.
    pub last: Option<Instant>,
    /// The most messages the sink held at once, between the end of their data and their `250`:
    /// how many emails the senders had in flight.
    pub peak_in_flight: usize,
}

#[derive(Debug, Default)]
struct State {
    counts: SinkCounts,
    in_flight: usize,
}

impl SmtpSink {
    /// Starts a sink that waits `per_message` after each message's data before accepting it.
    pub async fn start(per_message: Duration) -> anyhow::Result<SmtpSink> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("failed to bind the SMTP sink")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn({
            let state = Arc::clone(&state);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    lock(&state).counts.connections += 1;
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        // A client that goes away mid-conversation ends only its own task.
                        let _ = converse(stream, &state, per_message).await;
                    });
                }
            }
        });
        Ok(SmtpSink { addr, state, task })
    }

    /// `smtp://127.0.0.1:PORT`: plain SMTP, no TLS, no authentication.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// What it has seen so far.
    pub fn counts(&self) -> SinkCounts {
        lock(&self.state).counts.clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One SMTP conversation, until QUIT or the client closes.
async fn converse(
    stream: TcpStream,
    state: &Mutex<State>,
    per_message: Duration,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    writer.write_all(b"220 order-bench ESMTP sink\r\n").await?;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-order-bench\r\n250 SIZE 10485760\r\n"
        } else if command.starts_with("HELO")
            || command.starts_with("MAIL FROM:")
            || command.starts_with("RCPT TO:")
            || command == "RSET"
            || command == "NOOP"
        {
            b"250 OK\r\n"
        } else if command == "DATA" {
            writer
                .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            // The data ends with a line holding one dot ("\r\n.\r\n").
            loop {
                line.clear();
                if reader.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
            }
            {
                let mut state = lock(state);
                state.in_flight += 1;
                state.counts.peak_in_flight = state.counts.peak_in_flight.max(state.in_flight);
            }
            tokio::time::sleep(per_message).await;
            let now = Instant::now();
            {
                let mut state = lock(state);
                state.in_flight -= 1;
                let counts = &mut state.counts;
                counts.messages += 1;
                counts.first.get_or_insert(now);
                counts.last = Some(now);
            }
            b"250 2.0.0 queued\r\n"
        } else if command == "QUIT" {
            writer.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 command not recognised\r\n"
        };
        writer.write_all(reply).await?;
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    async fn expect(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, code: &str) {
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).await.expect("a reply");
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            // `250-` continues a multi-line reply; `250 ` ends it.
            if line.as_bytes().get(3) == Some(&b' ') {
                return;
            }
        }
    }

    #[tokio::test]
    async fn a_conversation_is_answered_and_its_message_counted_after_the_delay() {
        let sink = SmtpSink::start(Duration::from_millis(30))
            .await
            .expect("sink");
        let addr = sink.url().trim_start_matches("smtp://").to_owned();
        let stream = TcpStream::connect(&addr).await.expect("connect");
        let (reader, mut writer) = stream.into_split();
        let mut reader = BufReader::new(reader);
        expect(&mut reader, "220").await;
        for (command, code) in [
            ("EHLO bench", "250"),
            ("MAIL FROM:<a@example.com>", "250"),
            ("RCPT TO:<b@example.com>", "250"),
            ("DATA", "354"),
        ] {
            writer
                .write_all(format!("{command}\r\n").as_bytes())
                .await
                .expect("write");
            expect(&mut reader, code).await;
        }
        let sent = Instant::now();
        writer
            .write_all(b"Subject: hi\r\n\r\n..a stuffed line\r\n.\r\n")
            .await
            .expect("write");
        expect(&mut reader, "250").await;
        assert!(sent.elapsed() >= Duration::from_millis(30), "the delay");
        writer.write_all(b"QUIT\r\n").await.expect("write");
        expect(&mut reader, "221").await;
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.expect("closed");
        let counts = sink.counts();
        assert_eq!(
            (counts.messages, counts.connections, counts.peak_in_flight),
            (1, 1, 1)
        );
        assert!(counts.first.is_some() && counts.first == counts.last);
    }
}
