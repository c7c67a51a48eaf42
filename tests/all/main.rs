//! Integration tests: the real `tapedeck` binary on an ephemeral port, a temporary music dir,
//! and a raw HTTP/1.1 client (plus `curl` where a real client's view matters).

mod support;

mod bad_input;
mod caching;
mod platform;
mod range;
mod sandbox;
mod scale_out;
mod stream;
mod transcode;
