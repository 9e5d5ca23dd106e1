//! A TCP proxy in front of the shared broker, so that a test can take the broker away (cut open
//! connections, refuse new ones) without disturbing the broker other tests use.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where the shared broker listens.
pub const BROKER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5672);

/// A running proxy on a free loopback port; dropped, it stops and cuts its connections.
pub struct TcpProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    accept_loop: JoinHandle<()>,
}

/// What the accept loop and the test share.
struct Shared {
    /// Cancelled to cut every connection made so far; replaced by a fresh one after a cut.
    generation: Mutex<CancellationToken>,
    /// While false, connections are closed as soon as they are accepted.
    up: AtomicBool,
    accepted: AtomicUsize,
}

impl TcpProxy {
    /// Starts a proxy, up, in front of `upstream`.
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            generation: Mutex::new(CancellationToken::new()),
            up: AtomicBool::new(true),
            accepted: AtomicUsize::new(0),
        });
        let accept_loop = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    shared.accepted.fetch_add(1, Ordering::SeqCst);
                    if !shared.up.load(Ordering::SeqCst) {
                        // Down: closed at once, like a broker that is not there.
                        continue;
                    }
                    tokio::spawn(relay(client, upstream, shared.generation()));
                }
            }
        });
        TcpProxy {
            address,
            shared,
            accept_loop,
        }
    }

    /// Starts a proxy, up, in front of the shared broker.
    pub async fn to_broker() -> TcpProxy {
        TcpProxy::start(BROKER).await
    }

    /// The AMQP URL that goes through the proxy.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.address)
    }

    /// Cuts every connection made so far, mid-stream; later ones go through.
    pub fn cut_all(&self) {
        let mut generation = self.shared.lock();
        generation.cancel();
        *generation = CancellationToken::new();
    }

    /// Cuts every open connection and refuses new ones.
    pub fn take_down(&self) {
        self.shared.up.store(false, Ordering::SeqCst);
        self.cut_all();
    }

    /// Accepts connections again.
    pub fn bring_up(&self) {
        self.shared.up.store(true, Ordering::SeqCst);
    }

    /// Connections accepted so far, refused ones included.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
        self.shared.lock().cancel();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, CancellationToken> {
        // Also runs while a test panics: a second panic here would abort.
        self.generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn generation(&self) -> CancellationToken {
        self.lock().clone()
    }
}

/// Copies bytes both ways until either side closes or `cut` fires, then drops both sockets.
async fn relay(mut client: TcpStream, upstream: SocketAddr, cut: CancellationToken) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        () = cut.cancelled() => {
            // Reset rather than close politely: what a crashed peer or a broken network does.
            let _ = client.set_zero_linger();
            let _ = server.set_zero_linger();
        }
    }
}
