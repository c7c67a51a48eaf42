//! Host bindings of tapedeck's own WIT interfaces (`wit/tapedeck.wit`), generated.
#![allow(missing_docs, reason = "generated code")]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "tapedeck:server/host",
    imports: { default: async | trappable },
    require_store_data_send: true,
    additional_derives: [PartialEq],
    with: {
        "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});
