//! `/open-flood` and `/literal-flood`: a guest that asks the host for more than any request
//! needs, descriptors that the host process holds for it, or literal body bytes that the host
//! would copy and keep while a client reads.

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};

use crate::files::CONTROL_FILE;
use crate::json::Object;
use crate::tapedeck::tapedeck::server::file_body::{self, Chunk};

/// Opens the control file again and again, keeping every descriptor, until an open fails;
/// renders `{"opened": N, "error": "<error-code>"}`. Each open is a descriptor of the host
/// process until the instance is dropped.
pub fn open_flood() -> String {
    let Some((dir, _)) = get_directories().into_iter().next() else {
        return Object::new().raw("opened", "0".into()).string("error", "no preopen").finish();
    };
    let mut held = Vec::new();
    let error = loop {
        match dir.open_at(
            PathFlags::empty(),
            CONTROL_FILE,
            OpenFlags::empty(),
            DescriptorFlags::READ,
        ) {
            Ok(file) => held.push(file),
            Err(e) => break e,
        }
    };
    Object::new().raw("opened", held.len().to_string()).string("error", error.name()).finish()
}

/// The period of the literal flood's bytes.
const PERIOD: usize = 251 * 256;

/// Hands the host, through `file-body.send`, a body of `mib` MiB (default 32) of literal
/// bytes in one chunk, and returns its length for the `content-length`. Byte `i` is
/// `i % 251 ^ i / 251` (truncated to a byte), the tests' `support::bytes::pattern`, so a
/// body that arrives can be checked byte for byte.
pub fn literal_flood(mib: Option<u16>) -> u64 {
    let len = usize::from(mib.unwrap_or(32)) << 20;
    // The pattern repeats every 251 × 256 bytes: copying that period keeps the guest's CPU
    // time far below its limit, so that the host's cap is what this meets.
    let period: Vec<u8> = (0..PERIOD).map(|i| (i % 251) as u8 ^ (i / 251) as u8).collect();
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        bytes.extend_from_slice(&period[..PERIOD.min(len - bytes.len())]);
    }
    file_body::send(None, &[Chunk::Literal(bytes)]);
    len as u64
}
