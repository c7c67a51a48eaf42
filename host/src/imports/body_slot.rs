//! Where a body import leaves the body of the response the guest is about to set.

use std::sync::{Arc, Mutex};

use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::io::sendfile::Spans;

/// Where the host's body imports leave a body for the response the guest is about to set.
#[derive(Clone, Default)]
pub struct BodySlot {
    body: Arc<Mutex<Option<HyperOutgoingBody>>>,
    /// The connection the response goes out on.
    pub connection: Arc<Spans>,
}

impl BodySlot {
    /// An empty slot for a response on the connection whose spans `connection` queues.
    pub fn new(connection: Arc<Spans>) -> Self {
        Self { body: Arc::default(), connection }
    }

    /// Makes `body` the body of the response the guest sets next.
    pub fn put(&self, body: HyperOutgoingBody) {
        *self.body.lock().unwrap() = Some(body);
    }

    /// Gives `response` the body the guest asked for, if it asked for one.
    pub fn attach(
        &self,
        response: hyper::Response<HyperOutgoingBody>,
    ) -> hyper::Response<HyperOutgoingBody> {
        match self.body.lock().unwrap().take() {
            Some(body) => response.map(|_| body),
            None => response,
        }
    }
}
