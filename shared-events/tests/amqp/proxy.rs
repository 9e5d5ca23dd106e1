//! A TCP proxy to the local broker whose connections a test can cut, to simulate network
//! failures without disturbing the shared broker.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where the broker listens.
const BROKER: &str = "127.0.0.1:5672";

/// A running proxy; dropped, it stops accepting and closes its connections.
pub(crate) struct Proxy {
    address: SocketAddr,
    /// Cancelled to cut every connection made so far; replaced by a fresh one after a cut.
    generation: Arc<Mutex<CancellationToken>>,
    accepted: Arc<AtomicUsize>,
    accept_loop: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port.
    pub(crate) async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let generation = Arc::new(Mutex::new(CancellationToken::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let accept_loop = tokio::spawn({
            let generation = Arc::clone(&generation);
            let accepted = Arc::clone(&accepted);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let cut = generation.lock().expect("lock").clone();
                    tokio::spawn(relay(client, cut));
                }
            }
        });
        Proxy {
            address,
            generation,
            accepted,
            accept_loop,
        }
    }

    /// An AMQP URL that goes through the proxy.
    pub(crate) fn url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.address)
    }

    /// Cuts every connection made so far, mid-stream; later ones go through.
    pub(crate) fn cut_all(&self) {
        let mut generation = self.generation.lock().expect("lock");
        generation.cancel();
        *generation = CancellationToken::new();
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
        self.generation.lock().expect("lock").cancel();
    }
}

/// Copies bytes both ways until either side closes or `cut` fires, then drops both sockets.
async fn relay(mut client: TcpStream, cut: CancellationToken) {
    let Ok(mut broker) = TcpStream::connect(BROKER).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut broker) => {}
        () = cut.cancelled() => {
            // Reset rather than close politely: what a crashed peer or a broken network does.
            let _ = client.set_zero_linger();
            let _ = broker.set_zero_linger();
        }
    }
}
