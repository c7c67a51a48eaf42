//! tapedeck's guest: the HTTP policy of `/stream/…`, as plain functions without I/O.
//!
//! Each module owns one HTTP concern and takes plain values (`&str`, `u64`), so
//! `cargo test -p tapedeck-guest` on the host target tests all of the policy. Only the
//! wasm-only `glue` module touches wasi-http: it reads the request, opens the file through
//! the host, and calls [`path::resolve`], [`mime::audio_type`], [`etag::strong`] and
//! [`respond::serve`] (or [`respond::error`]).
//!
//! The header fields of a plain 200 or 206 are written without `core::fmt`: every
//! `dyn Write` it calls through makes the request's fresh instance initialise a function
//! table entry in the host, which cost more than the formatting itself (11k of 191k
//! instructions per range request, by callgrind).

pub mod disposition;
pub mod etag;
pub mod mime;
pub mod multipart;
pub mod path;
pub mod precondition;
pub mod range;
pub mod respond;
pub mod wav;

#[cfg(target_arch = "wasm32")]
mod glue;
