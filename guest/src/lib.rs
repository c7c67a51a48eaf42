//! tapedeck's guest: the HTTP policy of `/stream/…`, as plain functions without I/O.
//!
//! Each module owns one HTTP concern and takes plain values (`&str`, `u64`), so
//! `cargo test -p tapedeck-guest` on the host target tests all of the policy. Only the
//! wasm-only `glue` module touches wasi-http: it reads the request, collects its fields with
//! [`headers::RequestHeaders`], picks the [`route::route`], opens the file through the host
//! (a failure is an [`open::OpenError`]), and calls [`path::resolve`], [`mime::audio_type`]
//! or [`transcode::codec`], [`etag::strong`] and [`respond::serve`], then writes the
//! [`reply::Reply`]. For `/stream/wav/…` it hands the host the pieces of
//! [`transcode::body`]; for `/stream/mp3/…`, those of [`mp3::Mp3Stream::locate`]. For
//! `/hls/…` it writes [`hls`] playlists and [`fmp4`] boxes around the packets the host encodes.
//!
//! The header fields of a plain 200 or 206 are written without `core::fmt`: every
//! `dyn Write` it calls through makes the request's fresh instance initialise a function
//! table entry in the host, which cost more than the formatting itself (11k of 191k
//! instructions per range request, by callgrind).

pub mod disposition;
pub mod etag;
pub mod fmp4;
pub mod headers;
pub mod hls;
pub mod json;
pub mod mime;
pub mod mp3;
pub mod multipart;
pub mod open;
pub mod path;
pub mod precondition;
pub mod range;
pub mod reply;
pub mod respond;
pub mod route;
pub mod transcode;
pub mod wav;

#[cfg(all(target_arch = "wasm32", feature = "component"))]
mod glue;
