//! Links the guest component with a small wasm stack.

/// Bytes of the guest's shadow stack. Rust's default is 1 MiB, placed below the
/// data and heap: a request then dirties pages across more than a megabyte of
/// linear memory, all of which the host resets after every request.
const STACK_BYTES: u32 = 128 * 1024;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={STACK_BYTES}");
    }
}
