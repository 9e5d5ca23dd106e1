//! A small SMTP server for the tests: it speaks enough of RFC 5321 for lettre, records every
//! message it accepts, and can be told to refuse. It can speak TLS with a test certificate,
//! from the first byte (`smtps://`) or after STARTTLS, and takes `AUTH PLAIN`, recording the
//! credentials and whether they came over TLS.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::tls::SelfSigned;

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

/// Credentials a client gave with `AUTH PLAIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
    /// Whether the conversation was encrypted when they were sent.
    pub over_tls: bool,
}

/// How the server protects its conversations.
#[derive(Clone)]
enum Security {
    /// No TLS: `smtp://`.
    Plain,
    /// STARTTLS offered: `smtp://...?tls=required`.
    StartTls(TlsAcceptor),
    /// TLS from the first byte: `smtps://`.
    Wrapper(TlsAcceptor),
}

#[derive(Debug)]
struct State {
    mode: Mode,
    received: Vec<ReceivedMail>,
    logins: Vec<Login>,
    /// When each `MAIL FROM` came, accepted or refused: one per delivery attempt.
    attempts: Vec<Instant>,
    connections: usize,
}

/// A running test SMTP server on a free loopback port; stops when dropped.
pub struct SmtpServer {
    port: u16,
    wrapper: bool,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl SmtpServer {
    /// Starts a server without TLS that accepts every message.
    pub async fn start() -> SmtpServer {
        SmtpServer::start_with(Security::Plain).await
    }

    /// Starts a server that offers STARTTLS with `certificate`.
    pub async fn start_tls(certificate: &SelfSigned) -> SmtpServer {
        SmtpServer::start_with(Security::StartTls(acceptor(certificate))).await
    }

    /// Starts a server that speaks TLS with `certificate` from the first byte.
    pub async fn start_implicit_tls(certificate: &SelfSigned) -> SmtpServer {
        SmtpServer::start_with(Security::Wrapper(acceptor(certificate))).await
    }

    async fn start_with(security: Security) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let wrapper = matches!(security, Security::Wrapper(_));
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Accept,
            received: Vec::new(),
            logins: Vec::new(),
            attempts: Vec::new(),
            connections: 0,
        }));
        let task = tokio::spawn({
            let state = Arc::clone(&state);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let state = Arc::clone(&state);
                    let security = security.clone();
                    tokio::spawn(async move {
                        // A client that goes away mid-conversation, or fails the handshake,
                        // ends only its own task.
                        let _ = greet(stream, security, state).await;
                    });
                }
            }
        });
        SmtpServer {
            port,
            wrapper,
            state,
            task,
        }
    }

    /// The URL of the server with no credentials: `smtp://127.0.0.1:PORT`, with `?tls=required`
    /// when it offers STARTTLS, or `smtps://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        if self.wrapper {
            format!("smtps://127.0.0.1:{}", self.port)
        } else {
            format!("smtp://127.0.0.1:{}", self.port)
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The credentials clients gave, in order.
    pub fn logins(&self) -> Vec<Login> {
        self.lock().logins.clone()
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

fn acceptor(certificate: &SelfSigned) -> TlsAcceptor {
    let config =
        shared_events::app::tls::server_config(&certificate.cert_file(), &certificate.key_file())
            .expect("a TLS server configuration");
    TlsAcceptor::from(Arc::new(config))
}

/// A byte stream a conversation runs over: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

async fn greet(
    stream: tokio::net::TcpStream,
    security: Security,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
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
    let (stream, starttls, over_tls): (Box<dyn Stream>, _, _) = match security {
        Security::Plain => (Box::new(stream), None, false),
        Security::StartTls(acceptor) => (Box::new(stream), Some(acceptor), false),
        Security::Wrapper(acceptor) => (Box::new(acceptor.accept(stream).await?), None, true),
    };
    let mut stream = BufReader::new(stream);
    stream
        .get_mut()
        .write_all(b"220 test-smtp ESMTP ready\r\n")
        .await?;
    let next = converse(&mut stream, starttls.is_some(), over_tls, &state).await?;
    let (Next::StartTls, Some(acceptor)) = (next, starttls) else {
        return Ok(());
    };
    // STARTTLS: the conversation starts again over TLS, without a greeting (RFC 3207).
    let stream = acceptor.accept(stream.into_inner()).await?;
    let mut stream = BufReader::new(Box::new(stream) as Box<dyn Stream>);
    converse(&mut stream, false, true, &state).await?;
    Ok(())
}

/// How a conversation ended.
enum Next {
    /// QUIT, or the client went away.
    Done,
    /// STARTTLS: the TLS handshake comes next.
    StartTls,
}

/// Answers commands until QUIT or the end of the stream, or until STARTTLS when
/// `offer_starttls`.
async fn converse(
    stream: &mut BufReader<Box<dyn Stream>>,
    offer_starttls: bool,
    over_tls: bool,
    state: &Mutex<State>,
) -> std::io::Result<Next> {
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let Some(line) = read_line(stream).await? else {
            return Ok(Next::Done);
        };
        let command = line.to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            if offer_starttls {
                b"250-test-smtp greets you\r\n250-SIZE 10485760\r\n250-STARTTLS\r\n250-AUTH PLAIN\r\n250 HELP\r\n"
            } else {
                b"250-test-smtp greets you\r\n250-SIZE 10485760\r\n250-AUTH PLAIN\r\n250 HELP\r\n"
            }
        } else if command == "STARTTLS" && offer_starttls {
            stream
                .get_mut()
                .write_all(b"220 2.0.0 go ahead\r\n")
                .await?;
            return Ok(Next::StartTls);
        } else if command.starts_with("AUTH PLAIN ") {
            match plain_credentials(&line["AUTH PLAIN ".len()..]) {
                Some((user, password)) => {
                    state.lock().expect("lock").logins.push(Login {
                        user,
                        password,
                        over_tls,
                    });
                    b"235 2.7.0 authenticated\r\n"
                }
                None => b"501 5.5.2 malformed credentials\r\n",
            }
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
            stream
                .get_mut()
                .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            while let Some(line) = read_line(stream).await? {
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
            stream.get_mut().write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(Next::Done);
        } else {
            b"502 5.5.2 command not recognised\r\n"
        };
        stream.get_mut().write_all(reply).await?;
    }
}

/// The next line without its line ending; `None` at the end of the stream.
async fn read_line(stream: &mut BufReader<Box<dyn Stream>>) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    Ok(Some(line))
}

/// The user and password of an `AUTH PLAIN` argument: base64 of `authzid NUL user NUL password`.
fn plain_credentials(argument: &str) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(argument.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let mut parts = decoded.split('\0').skip(1);
    Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
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
