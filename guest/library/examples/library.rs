//! Answers requests to the library API from a music dir on this machine, as the guest
//! would, and prints each reply with its time:
//! `cargo run -p tapedeck-library --example library -- DIR /api/browse/Tones ...`.

use std::path::Path;
use std::time::Instant;

use tapedeck_guest::precondition::Conditionals;
use tapedeck_guest::reply::{Body, Chunk, Method};
use tapedeck_library::api::{self, Request};
use tapedeck_library::native::NativeDir;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: library DIR TARGET...");
        std::process::exit(2);
    };
    let dir = NativeDir::new(Path::new(&root)).expect("the music dir opens");
    for (n, target) in args.enumerate() {
        let request = Request {
            method: Method::Get,
            target: &target,
            conditionals: Conditionals::default(),
            prefix: "",
        };
        let start = Instant::now();
        let answer = api::answer(&dir, &request);
        let elapsed = start.elapsed();
        println!(
            "{target} -> {} in {:.3} ms",
            answer.reply.status.code(),
            elapsed.as_secs_f64() * 1e3
        );
        for (name, value) in &answer.reply.headers {
            println!("  {name}: {value}");
        }
        let body = match answer.reply.body {
            Body::Literal(bytes) if bytes.first() == Some(&b'{') => {
                println!("{}", String::from_utf8_lossy(&bytes));
                bytes
            }
            Body::Literal(bytes) => {
                println!("  ({} literal bytes)", bytes.len());
                bytes
            }
            Body::Representation(chunks) => {
                println!("  (spans {chunks:?})");
                spans(answer.file.as_ref(), &chunks)
            }
            Body::Empty => Vec::new(),
        };
        // LIBRARY_DUMP=DIR writes each body to DIR/<n>.bin, to compare covers byte for byte.
        if let Some(dump) = std::env::var_os("LIBRARY_DUMP") {
            std::fs::write(Path::new(&dump).join(format!("{n}.bin")), body)
                .expect("the dump dir is writable");
        }
    }
}

/// The bytes a body of spans of `file` stands for.
fn spans(file: Option<&std::fs::File>, chunks: &[Chunk]) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut bytes = Vec::new();
    for chunk in chunks {
        match (chunk, file) {
            (Chunk::Literal(literal), _) => bytes.extend(literal),
            (Chunk::Span { start, len }, Some(file)) => {
                let mut span = vec![0; *len as usize];
                file.read_exact_at(&mut span, *start).expect("the span is in the file");
                bytes.extend(span);
            }
            (Chunk::Span { .. }, None) => panic!("a span without a file"),
        }
    }
    bytes
}
