//! Integration tests: the real `tapedeck` binary on an ephemeral port, a temporary music dir,
//! and a raw HTTP/1.1 client (plus `curl` and nginx where a real client's view matters).
//! One file per capability.

mod support;

mod bad_input;
mod caching;
mod client_limits;
mod config_checks;
mod decoder_confinement;
mod guest_limits;
mod head;
mod hls;
mod hls_player;
mod library_access;
mod library_browse;
mod library_covers;
mod library_metadata;
mod logging;
mod metrics;
mod mp3_transcoding;
mod names_and_types;
mod neighbours;
mod range;
mod rate_limits;
mod reload;
mod sandbox;
mod scale_out;
mod shutdown;
mod streaming;
mod tenants;
mod transcoding;
mod transcoding_limits;
mod untrusted_files;
mod web_player;
