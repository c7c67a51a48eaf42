//! The guest components tests run instead of the embedded one, and what the hostile guest
//! (`tests/guests/hostile`) must find in its music dir for its failures elsewhere to count.

use serde_json::Value;

use super::library::Library;

/// The real guest component, as the build embeds it.
pub const GUEST_WASM: &str = env!("TAPEDECK_GUEST_WASM");
/// The hostile guest component, built by the host's build script.
pub const HOSTILE_GUEST: &str = env!("TAPEDECK_HOSTILE_GUEST");
/// The header the hostile guest puts on every response.
pub const GUEST_HEADER: &str = "x-tapedeck-guest";

/// A file the hostile guest reads as its control: if it cannot read this, its failing to
/// read anything else proves nothing.
pub const CONTROL_FILE: &str = "control.mp3";
pub const CONTROL_BYTES: &[u8] = b"ID3 control file inside MUSIC_DIR";

/// Peak host memory a server may reach while a guest allocates without bound (each guest
/// is capped at 64 MiB).
pub const MEMORY_CEILING: u64 = 512 << 20;

/// Adds the hostile guest's control file to `library`.
pub fn add_control_file(library: &Library) {
    library.add(CONTROL_FILE, CONTROL_BYTES);
}

/// Asserts that the `controls` of a hostile guest's report all read the control file.
#[track_caller]
pub fn assert_controls_read(report: &Value) {
    let controls = report["controls"].as_object().expect("controls in the report");
    assert!(!controls.is_empty(), "no controls in the report: {report}");
    let expected = std::str::from_utf8(CONTROL_BYTES).unwrap();
    for (name, outcome) in controls {
        let outcome = outcome.as_str().unwrap_or_default();
        assert!(
            outcome.starts_with("ok:") && outcome.contains(expected),
            "the guest could not read a file inside MUSIC_DIR ({name} => {outcome}): the test \
             proves nothing"
        );
    }
}
