//! The bindings wit-bindgen generates for tapedeck's own imports (`file-body`,
//! `transcode`: the `tapedeck:server/host` world), with the WASI types they name taken
//! from `wasip2`, so a descriptor opened through `wasip2` can be handed to them:
//! generated code only.
#![allow(
    unsafe_code,
    missing_docs,
    reason = "wit-bindgen generates undocumented FFI: canonical-ABI lowering and lifting in \
              `unsafe` blocks"
)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "tapedeck:server/host",
    with: {
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
        "wasi:filesystem/types@0.2.12": wasip2::filesystem::types,
    },
});
