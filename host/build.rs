//! Builds the guest components so a plain `cargo build` of the host embeds a fresh
//! guest: no manual step and no checked-in `.wasm`.
//!
//! tapedeck's own guests (`guest/`, `guest/library/`) are built for
//! `wasm32-unknown-unknown` and made components here with `wit-component`. Built for
//! `wasm32-wasip2`, Rust's std would import a dozen WASI CLI interfaces (stdio,
//! terminals, environment, exit) the guests never use, and every import is work at
//! every instantiation, once per request. The hostile test guest keeps
//! `wasm32-wasip2`: it attacks the sandbox through std.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A guest crate to build.
struct Guest {
    package: &'static str,
    target: &'static str,
    /// The env var that hands the component's path to the host's code.
    var: &'static str,
}

const GUESTS: &[Guest] = &[
    Guest {
        package: "tapedeck-guest",
        target: "wasm32-unknown-unknown",
        var: "TAPEDECK_GUEST_WASM",
    },
    Guest {
        package: "tapedeck-library",
        target: "wasm32-unknown-unknown",
        var: "TAPEDECK_LIBRARY_WASM",
    },
    Guest { package: "hostile-guest", target: "wasm32-wasip2", var: "TAPEDECK_HOSTILE_GUEST" },
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().expect("host/ lives in the workspace root");
    for watched in [
        "guest/src",
        "guest/build.rs",
        "guest/Cargo.toml",
        "guest/library",
        "tests/guests",
        "wit",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    // A nested cargo sharing the outer target dir deadlocks on its lock: give it its own.
    let target_dir = outer_target_dir().join("wasm");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    for guest in GUESTS {
        ensure_target(guest.target);
        build(root, &target_dir, guest);
        let built = target_dir
            .join(guest.target)
            .join("release")
            .join(format!("{}.wasm", guest.package.replace('-', "_")));
        assert!(built.exists(), "guest `{}` was not built", built.display());
        let component = if guest.target == "wasm32-unknown-unknown" {
            componentize(&built, &out_dir)
        } else {
            built
        };
        println!("cargo:rustc-env={}={}", guest.var, component.display());
    }
}

/// Builds one guest crate in release for its target.
fn build(root: &Path, target_dir: &Path, guest: &Guest) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args(["build", "--release", "-p", guest.package, "--target", guest.target])
        .arg("--target-dir")
        .arg(target_dir);
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
    assert!(status.success(), "building the guest `{}` failed", guest.package);
}

/// Wraps a core wasm module in a component, from the WIT its bindings embed.
fn componentize(module: &Path, out_dir: &Path) -> PathBuf {
    let bytes = std::fs::read(module).expect("failed to read the guest module");
    let component = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|encoder| encoder.validate(true).encode())
        .unwrap_or_else(|error| panic!("`{}` is not a valid guest: {error:?}", module.display()));
    let path = out_dir.join(module.file_name().unwrap());
    std::fs::write(&path, component).expect("failed to write the guest component");
    path
}

/// Adds a compilation target with rustup when the toolchain lacks it.
fn ensure_target(target: &str) {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("failed to run rustc --print sysroot");
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    let target_lib = Path::new(&sysroot).join("lib/rustlib").join(target).join("lib");
    if target_lib.exists() {
        return;
    }
    let added = Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        added,
        "the `{target}` target is missing and `rustup target add {target}` failed: \
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
