//! A small SMTP server for the tests: it speaks enough of RFC 5321 for lettre, records every
//! message it accepts, and can be told to refuse.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the server treats the next conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Takes every message.
    Accept,
    /// Answers `451 4.3.0 try later` to `MAIL FROM`.
    RefuseMail,
    /// Answers `550 5.1.1 mailbox unavailable` to `RCPT TO`: a permanent refusal.
    RejectRecipient,
    /// Closes every connection at once, without a greeting.
    Close,
    /// Takes the connection and then says nothing at all, holding it until the client leaves:
    /// a server that hangs.
    Silent,
}

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as sent after `DATA`, dot-stuffing undone, lines ending in CRLF.
    pub data: String,
}

impl ReceivedMail {
    /// The value of the first header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut unfolded: Vec<String> = Vec::new();
        for line in head.split("\r\n") {
            match (line.starts_with([' ', '\t']), unfolded.last_mut()) {
                (true, Some(last)) => last.push_str(line),
                _ => unfolded.push(line.to_owned()),
            }
        }
        unfolded.into_iter().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    /// The `Subject` header.
    pub fn subject(&self) -> String {
        self.header("Subject").expect("a Subject header")
    }

    /// The body, after the blank line that ends the header.
    pub fn body(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
    }
}

#[derive(Debug)]
struct State {
    mode: Mode,
    received: Vec<ReceivedMail>,
    /// When each `MAIL FROM` came, accepted or refused: one per delivery attempt.
    attempts: Vec<Instant>,
    connections: usize,
}

/// A running test SMTP server on a free loopback port; stops when dropped.
pub struct SmtpServer {
    port: u16,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl SmtpServer {
    /// Starts a server that accepts every message.
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Accept,
            received: Vec::new(),
            attempts: Vec::new(),
            connections: 0,
        }));
        let task = tokio::spawn({
            let state = Arc::clone(&state);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        // A client that goes away mid-conversation ends only its own task.
                        let _ = converse(stream, state).await;
                    });
                }
            }
        });
        SmtpServer { port, state, task }
    }

    /// `smtp://127.0.0.1:PORT`: plain SMTP, no TLS, no authentication.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Changes how the next commands are answered.
    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    /// Every message accepted so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.lock().received.clone()
    }

    /// How many connections were made.
    pub fn connections(&self) -> usize {
        self.lock().connections
    }

    /// When each delivery attempt (`MAIL FROM`) came.
    pub fn attempts(&self) -> Vec<Instant> {
        self.lock().attempts.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("the SMTP state lock")
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn converse(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    {
        let mut state = state.lock().expect("lock");
        state.connections += 1;
        if state.mode == Mode::Close {
            return Ok(());
        }
    }
    if state.lock().expect("lock").mode == Mode::Silent {
        let mut stream = stream;
        let mut sink = [0_u8; 1024];
        while tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? > 0 {}
        return Ok(());
    }
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    writer.write_all(b"220 test-smtp ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let command = line.to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-test-smtp greets you\r\n250-SIZE 10485760\r\n250 HELP\r\n"
        } else if command.starts_with("HELO") {
            b"250 test-smtp\r\n"
        } else if command.starts_with("MAIL FROM:") {
            let mut state = state.lock().expect("lock");
            state.attempts.push(Instant::now());
            if state.mode != Mode::RefuseMail {
                from = address(&line["MAIL FROM:".len()..]);
                to.clear();
                b"250 2.1.0 OK\r\n"
            } else {
                b"451 4.3.0 try later\r\n"
            }
        } else if command.starts_with("RCPT TO:") {
            if state.lock().expect("lock").mode == Mode::RejectRecipient {
                b"550 5.1.1 mailbox unavailable\r\n"
            } else {
                to.push(address(&line["RCPT TO:".len()..]));
                b"250 2.1.5 OK\r\n"
            }
        } else if command == "DATA" {
            writer
                .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            while let Some(line) = lines.next_line().await? {
                if line == "." {
                    break;
                }
                // Undo dot-stuffing (RFC 5321, 4.5.2).
                let line = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(line);
                data.push_str("\r\n");
            }
            state.lock().expect("lock").received.push(ReceivedMail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            b"250 2.0.0 queued\r\n"
        } else if command == "RSET" || command == "NOOP" {
            b"250 2.0.0 OK\r\n"
        } else if command == "QUIT" {
            writer.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 command not recognised\r\n"
        };
        writer.write_all(reply).await?;
    }
    Ok(())
}

/// `<ada@example.com> BODY=8BITMIME` -> `ada@example.com`.
fn address(argument: &str) -> String {
    let argument = argument.trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(open), Some(close)) if open < close => argument[open + 1..close].to_owned(),
        _ => argument
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}
