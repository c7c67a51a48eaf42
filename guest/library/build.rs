//! Hashes the crate's sources (the player page aside) into `TAPEDECK_LIBRARY_BUILD`: the
//! API's entity-tags include it, so a guest that would describe a file differently never
//! answers 304 to what an older one sent. Replicas built from the same sources agree.
//!
//! Also links the component with Rust's usual 1 MiB wasm stack, said explicitly: the stream
//! guest's 32 KiB would overflow in lofty's parsers, which keep large buffers on the stack.

use std::path::{Path, PathBuf};

/// Bytes of the guest's shadow stack.
const STACK_BYTES: u32 = 1024 * 1024;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={STACK_BYTES}");
    }
    println!("cargo:rerun-if-changed=src");
    let mut files = Vec::new();
    collect(Path::new("src"), &mut files);
    files.sort();
    // FNV-1a, 64 bits: enough to tell builds apart.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for byte in file.to_string_lossy().bytes().chain(bytes) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=TAPEDECK_LIBRARY_BUILD={hash:016x}");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "page") {
                collect(&path, files);
            }
        } else {
            files.push(path);
        }
    }
}
