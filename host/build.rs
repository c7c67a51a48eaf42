//! Builds the guest components to `wasm32-wasip2` so a plain `cargo build` of the
//! host embeds a fresh guest: no manual step and no checked-in `.wasm`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";

/// Guest crates to build, with the env var that hands each `.wasm` path to the host.
const GUESTS: &[(&str, &str)] =
    &[("tapedeck-guest", "TAPEDECK_GUEST_WASM"), ("hostile-guest", "TAPEDECK_HOSTILE_GUEST")];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().expect("host/ lives in the workspace root");
    for watched in ["guest/src", "guest/Cargo.toml", "tests/guests", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    ensure_wasm_target();

    // A nested cargo sharing the outer target dir deadlocks on its lock: give it its own.
    let target_dir = outer_target_dir().join("wasm");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args(["build", "--release", "--target", WASM_TARGET, "--target-dir"])
        .arg(&target_dir);
    for (package, _) in GUESTS {
        build.args(["-p", package]);
    }
    // What the outer build passes down would override the guest's own settings.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        build.env_remove(var);
    }
    let status = build.status().expect("failed to run cargo for the guest components");
    assert!(status.success(), "building the guest components failed");

    let out = target_dir.join(WASM_TARGET).join("release");
    for (package, var) in GUESTS {
        let wasm = out.join(format!("{}.wasm", package.replace('-', "_")));
        assert!(wasm.exists(), "guest component `{}` was not built", wasm.display());
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
}

/// Adds the guest's compilation target with rustup when the toolchain lacks it.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("failed to run rustc --print sysroot");
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    let target_lib = Path::new(&sysroot).join("lib/rustlib").join(WASM_TARGET).join("lib");
    if target_lib.exists() {
        return;
    }
    let added = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        added,
        "the `{WASM_TARGET}` target is missing and `rustup target add {WASM_TARGET}` failed: \
         install it by hand, then build again"
    );
}

/// The outer build's target dir: the ancestor of OUT_DIR that holds `CACHEDIR.TAG`.
fn outer_target_dir() -> PathBuf {
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
        .unwrap_or_else(|| panic!("no target dir above `{}`", out_dir.display()))
        .to_path_buf()
}
