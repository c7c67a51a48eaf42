//! The bindings wit-bindgen generates for the `library` world, and the export of
//! [`super::Glue`] as its `wasi:http/incoming-handler`: generated code only.
#![allow(
    unsafe_code,
    missing_docs,
    reason = "wit-bindgen generates undocumented FFI: canonical-ABI lifting and lowering in \
              `unsafe` blocks, and `#[export_name]` functions for the exports"
)]

use super::Glue;

wit_bindgen::generate!({
    path: "../../wit",
    world: "tapedeck:server/library",
    with: {
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:filesystem/types@0.2.12": wasip2::filesystem::types,
        "wasi:filesystem/preopens@0.2.12": wasip2::filesystem::preopens,
        "wasi:http/types@0.2.12": wasip2::http::types,
    },
});

export!(Glue);
