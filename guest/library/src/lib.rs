//! tapedeck's library guest: the metadata API (`/api/track`, `/api/browse`, `/api/cover`)
//! and the web player page, as a WebAssembly component of the `library` world.
//!
//! Every byte of a media file is parsed here, inside the sandbox: a crafted tag can at
//! worst break its own request. [`media`] reads files (lofty for most tags, parsers of
//! this crate for properties, pictures and ASF); [`api`] decides each endpoint's reply
//! through the [`api::MusicDir`] trait; the other modules are the plain policy it uses.
//! Only the wasm-only `glue` module touches the host: it reads the request, gives [`api`]
//! the host's filesystem, and hands the reply's body to `file-body.send`.
//!
//! The stream guest's policy modules are reused: `path::resolve`, `etag`, `precondition`,
//! `mime`, `open::OpenError` and `reply::Reply`.

pub mod api;
pub mod json;
pub mod listing;
pub mod media;
pub mod natural;
pub mod page;
pub mod query;
pub mod respond;
pub mod route;
pub mod track;
pub mod url;
pub mod validators;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

#[cfg(target_arch = "wasm32")]
mod glue;
