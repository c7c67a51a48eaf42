//! Links the guest component with a small wasm stack.

/// Bytes of the guest's shadow stack. Rust's default is 1 MiB, placed below the
/// data and heap, and the host resets the guest's memory after every request:
/// with 32 KiB the stack, the static data and a request's heap share one 64 KiB
/// wasm page. The guest has no recursion and no large locals; a stack overflow
/// would trap (a 500 for that request), not corrupt the data above it.
const STACK_BYTES: u32 = 32 * 1024;

fn main() {
    // Only for the component: Cargo also passes this argument to the link of a crate that
    // reuses the policy modules (the library guest, which needs a larger stack).
    let component = std::env::var_os("CARGO_FEATURE_COMPONENT").is_some();
    if component && std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={STACK_BYTES}");
    }
}
