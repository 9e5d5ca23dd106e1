//! A TCP proxy between the services and the shared broker, so a test can take the broker away
//! (refuse new connections and cut open ones) without touching the broker other tests use.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The proxy; dropping it stops it.
pub(crate) struct BrokerProxy {
    address: SocketAddr,
    up: Arc<watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl BrokerProxy {
    /// Starts a proxy on a free loopback port in front of `upstream`, up.
    pub(crate) async fn start(upstream: SocketAddr) -> BrokerProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let (up, _) = watch::channel(true);
        let up = Arc::new(up);
        let task = tokio::spawn({
            let up = Arc::clone(&up);
            async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        return;
                    };
                    if !*up.borrow() {
                        // Down: the connection is closed at once, like a broker that is not there.
                        drop(client);
                        continue;
                    }
                    let mut down = up.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let mut client = client;
                        tokio::select! {
                            _ = copy_bidirectional(&mut client, &mut server) => {}
                            _ = down.wait_for(|up| !*up) => {}
                        }
                    });
                }
            }
        });
        BrokerProxy { address, up, task }
    }

    /// The AMQP URL that goes through the proxy.
    pub(crate) fn url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.address)
    }

    /// Cuts every open connection and refuses new ones.
    pub(crate) fn take_down(&self) {
        self.up.send_replace(false);
    }

    /// Accepts connections again.
    pub(crate) fn bring_up(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for BrokerProxy {
    fn drop(&mut self) {
        self.up.send_replace(false);
        self.task.abort();
    }
}
