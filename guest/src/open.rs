//! The answer when a resolved path cannot be served once the host tries to open it.

use crate::path::PathError;
use crate::reply::{Reply, Status};

/// Why opening a file under MUSIC_DIR failed: the `wasi:filesystem` error codes the policy
/// tells apart, and a file that opened but is not a regular one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// `not-permitted`: the host's preopen refused, as it does for a path or a symlink that
    /// leads outside MUSIC_DIR.
    NotPermitted,
    /// `access`: the file's permissions refused.
    Access,
    /// `loop`: too many levels of symlinks.
    Loop,
    /// `no-entry`: nothing by that name.
    NoEntry,
    /// `not-directory`: a segment before the last is a file.
    NotDirectory,
    /// `is-directory`: the name is a directory.
    IsDirectory,
    /// `name-too-long`.
    NameTooLong,
    /// `illegal-byte-sequence`: the filesystem cannot hold the name.
    IllegalByteSequence,
    /// `invalid`: the host rejects the path as an argument.
    Invalid,
    /// `no-such-device`: the name is a socket, or a device with no driver behind it.
    NoSuchDevice,
    /// `busy`: the host has too many of the tenant's lookups waiting on its disk.
    Busy,
    /// The file opened but is not a regular file: a directory, a FIFO, a device.
    NotRegularFile,
    /// Any other error: a fault of the host, not of the request.
    Other,
}

impl From<OpenError> for Reply {
    /// A path that escapes MUSIC_DIR is 403, whether [`crate::path::resolve`] or the host's
    /// preopen catches it; a name that names no file is 404.
    fn from(error: OpenError) -> Self {
        match error {
            OpenError::NotPermitted | OpenError::Access | OpenError::Loop => {
                PathError::Forbidden.into()
            }
            OpenError::NoEntry
            | OpenError::NotDirectory
            | OpenError::IsDirectory
            | OpenError::NameTooLong
            | OpenError::NoSuchDevice
            | OpenError::NotRegularFile => PathError::NotFound.into(),
            OpenError::Busy => Reply::error(Status::ServiceUnavailable, "The library is busy")
                .with_header("retry-after", "1".to_owned()),
            OpenError::IllegalByteSequence | OpenError::Invalid => PathError::BadRequest.into(),
            OpenError::Other => Self::server_error(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OpenError::{self, *};
    use crate::reply::{Reply, Status};

    #[rustfmt::skip]
    const CASES: &[(OpenError, Status, &str)] = &[
        (NotPermitted, Status::Forbidden, "Invalid path"),
        (Access, Status::Forbidden, "Invalid path"),
        (Loop, Status::Forbidden, "Invalid path"),
        (NoEntry, Status::NotFound, "File not found"),
        (NotDirectory, Status::NotFound, "File not found"),
        (IsDirectory, Status::NotFound, "File not found"),
        (NameTooLong, Status::NotFound, "File not found"),
        (NoSuchDevice, Status::NotFound, "File not found"),
        (NotRegularFile, Status::NotFound, "File not found"),
        (IllegalByteSequence, Status::BadRequest, "Invalid path"),
        (Invalid, Status::BadRequest, "Invalid path"),
        (Other, Status::InternalServerError, "Server error"),
    ];

    #[test]
    fn open_errors_map_to_statuses() {
        for &(error, status, message) in CASES {
            assert_eq!(Reply::from(error), Reply::error(status, message), "{error:?}");
        }
        let busy = Reply::from(Busy);
        assert_eq!(busy.status, Status::ServiceUnavailable);
        assert_eq!(busy.header("retry-after"), Some("1"));
    }
}
