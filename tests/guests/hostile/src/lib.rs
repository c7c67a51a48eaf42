//! A deliberately hostile guest: the fixture of tapedeck's sandbox tests.
//!
//! It exports `wasi:http/incoming-handler` like the real guest, but instead of serving music it
//! tries to leave its sandbox and answers, as a 200 JSON body, exactly what each attempt got, so
//! that the tests (`tests/all/sandbox.rs`) can assert that every escape failed. Routes:
//!
//! - `/escape/files[?try=PATH…]`: files outside the music dir (`files.rs`)
//! - `/escape/write`: changes to the music dir (`files.rs`)
//! - `/escape/env`: environment variables, arguments, working directory (`env.rs`)
//! - `/escape/network?port=N[&udp=M]`: TCP, UDP and DNS (`network.rs`)
//! - `/trap`, `/spin`, `/alloc[?chunk_mib=N]`: a panic, an endless loop, unbounded memory
//!   (`misbehave.rs`)
//! - `/count`: how many requests this instance has served (`misbehave.rs`)
//! - `/sleep?ms=N`: waits N ms on the monotonic clock inside a host call (`stall.rs`)
//! - `/fifo-probe?path=P`: opens the FIFO P of its music dir and has the host probe it
//!   (`stall.rs`)
//! - `/open-flood`: opens a file of its music dir until an open fails (`flood.rs`)
//! - `/literal-flood?mib=N`: a body of N MiB of literal bytes for the host to send
//!   (`flood.rs`)
//! - anything else: `{"guest":"hostile"}`
//!
//! Every response it sends carries `x-tapedeck-guest: hostile`, so a test that swaps guests
//! under load can tell which guest answered each request.
//!
//! Only the wasm32 build does anything: natively the crate is empty apart from its pure
//! helpers, so a native `cargo build` of the workspace still links.

mod json;
mod query;

#[cfg(target_arch = "wasm32")]
mod env;
#[cfg(target_arch = "wasm32")]
mod files;
#[cfg(target_arch = "wasm32")]
mod flood;
#[cfg(target_arch = "wasm32")]
mod misbehave;
#[cfg(target_arch = "wasm32")]
mod network;
#[cfg(target_arch = "wasm32")]
mod stall;
#[cfg(target_arch = "wasm32")]
mod tapedeck;

/// The `wasi:http/incoming-handler` export: routes a request to its attempt and sends the report.
#[cfg(target_arch = "wasm32")]
mod handler {
    use std::io::Write as _;

    use wasip2::http::types::{
        Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
    };

    use crate::{env, files, flood, json, misbehave, network, query::Query, stall};

    /// The exported handler.
    struct Hostile;

    wasip2::http::proxy::export!(Hostile);

    impl wasip2::exports::http::incoming_handler::Guest for Hostile {
        fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
            let target = request.path_with_query().unwrap_or_default();
            let (path, query) = match target.split_once('?') {
                Some((path, query)) => (path, Query::parse(query)),
                None => (target.as_str(), Query::parse("")),
            };
            let body = match path {
                "/escape/files" => files::report(&query.all("try")),
                "/escape/write" => files::write_report(),
                "/escape/env" => env::report(),
                "/escape/network" => {
                    network::report(query.first_u16("port"), query.first_u16("udp"))
                }
                "/trap" => misbehave::trap(),
                "/spin" => misbehave::spin(),
                "/alloc" => misbehave::alloc(query.first_u16("chunk_mib")),
                "/count" => misbehave::count(),
                "/sleep" => stall::sleep(query.first_u16("ms")),
                "/fifo-probe" => stall::fifo_probe(query.first("path").unwrap_or_default()),
                "/open-flood" => flood::open_flood(),
                "/literal-flood" => {
                    let len = flood::literal_flood(query.first_u16("mib"));
                    return respond_with_host_body(response_out, len);
                }
                _ => json::Object::new().string("guest", "hostile").finish(),
            };
            respond(response_out, &body);
        }
    }

    /// The header every response carries: which guest answered.
    const GUEST_HEADER: (&str, &str) = ("x-tapedeck-guest", "hostile");

    /// A 200 response of `content_type` and `len` bytes.
    fn response(content_type: &str, len: u64) -> OutgoingResponse {
        let headers = Fields::from_list(&[
            ("content-type".to_string(), content_type.as_bytes().to_vec()),
            ("content-length".to_string(), len.to_string().into_bytes()),
            (GUEST_HEADER.0.to_string(), GUEST_HEADER.1.as_bytes().to_vec()),
        ])
        .expect("valid headers");
        OutgoingResponse::new(headers)
    }

    /// Sets a 200 response of `len` bytes whose body the guest has already handed to the
    /// host (`file-body.send`): its `outgoing-body` must stay unopened.
    fn respond_with_host_body(response_out: ResponseOutparam, len: u64) {
        ResponseOutparam::set(response_out, Ok(response("application/octet-stream", len)));
    }

    /// Sends `body` as a 200 `application/json` response.
    fn respond(response_out: ResponseOutparam, body: &str) {
        let response = response("application/json", body.len() as u64);
        let outgoing = response.body().expect("body taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let mut stream = outgoing.write().expect("stream taken once");
        // `Write for OutputStream` goes through `check-write` + `write`: a plain
        // `blocking-write-and-flush` traps on writes over 4096 bytes.
        stream.write_all(body.as_bytes()).expect("write body");
        // With content-length set, the host may close the stream after the last byte.
        let _ = stream.flush();
        drop(stream);
        OutgoingBody::finish(outgoing, None).expect("finish body");
    }
}
