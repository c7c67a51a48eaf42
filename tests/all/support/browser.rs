//! The real-browser scripts in `tests/browser/` (Debian's Chromium through playwright-core).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::run;

/// `tests/browser`, with its dependencies (playwright-core, hls.js) installed.
pub fn scripts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    let installed =
        ["playwright-core", "hls.js"].iter().all(|m| dir.join("node_modules").join(m).is_dir());
    if !installed {
        run(Command::new("npm").args(["install", "--no-audit", "--no-fund"]).current_dir(&dir));
    }
    dir
}

/// Runs `node <script> <args>` in `tests/browser`; fails with everything it printed if it
/// fails, and returns it otherwise.
#[track_caller]
pub fn run_script(script: &str, args: &[&str]) -> String {
    let output = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(scripts())
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (is it installed?): {e}"));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{script} {args:?} failed ({}):\n{printed}", output.status);
    printed
}
