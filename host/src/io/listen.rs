//! Accepting connections.

use std::time::Duration;

use tokio::net::TcpListener;

/// The next connection, with Nagle off: response heads and small bodies must not
/// wait 40 ms for an ACK.
pub async fn accept(listener: &TcpListener) -> tokio::net::TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                _ = stream.set_nodelay(true);
                return stream;
            }
            Err(error) => {
                // Out of descriptors, say: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
