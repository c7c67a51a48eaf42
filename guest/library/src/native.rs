//! [`MusicDir`] over a directory of this machine, for tests and the `library` example:
//! symlinks are followed only while they stay inside it, as the host's preopen does.

use std::fs::{self, File, Metadata};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use tapedeck_guest::open::OpenError;

use crate::api::{MusicDir, Stat};
use crate::listing::{self, Entry, Kind};

/// A music dir on this machine.
pub struct NativeDir {
    root: PathBuf,
}

impl NativeDir {
    /// The music dir at `root`.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(Self { root: root.canonicalize()? })
    }

    /// The real path of `path`, if it stays inside the music dir.
    fn real(&self, path: &str) -> Result<PathBuf, OpenError> {
        let real = self.root.join(path).canonicalize().map_err(|error| match error.kind() {
            ErrorKind::NotFound => OpenError::NoEntry,
            ErrorKind::PermissionDenied => OpenError::Access,
            _ => OpenError::Other,
        })?;
        if real.starts_with(&self.root) { Ok(real) } else { Err(OpenError::NotPermitted) }
    }
}

fn stat(metadata: &Metadata) -> Option<Stat> {
    let kind = if metadata.is_dir() {
        Kind::Dir
    } else if metadata.is_file() {
        Kind::File
    } else {
        return None;
    };
    let modified = metadata.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(Stat {
        kind,
        size: metadata.len(),
        modified: (modified.as_secs(), modified.subsec_nanos()),
    })
}

impl MusicDir for NativeDir {
    type File = File;

    fn stat(&self, path: &str) -> Result<Stat, OpenError> {
        let metadata = fs::metadata(self.real(path)?).map_err(|_| OpenError::Other)?;
        stat(&metadata).ok_or(OpenError::NotRegularFile)
    }

    fn open(&self, path: &str) -> Result<(File, Stat), OpenError> {
        let file = File::open(self.real(path)?).map_err(|_| OpenError::Access)?;
        let stat = file.metadata().ok().as_ref().and_then(stat).ok_or(OpenError::Other)?;
        if stat.kind != Kind::File {
            return Err(OpenError::NotRegularFile);
        }
        Ok((file, stat))
    }

    fn list(&self, path: &str) -> Result<Vec<Entry>, OpenError> {
        let entries = fs::read_dir(self.real(path)?).map_err(|_| OpenError::NotDirectory)?;
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else { continue };
            if listing::hidden(&name) {
                continue;
            }
            let Ok(stat) = self.stat(&listing::join(path, &name)) else { continue };
            if stat.kind == Kind::File && !listing::wanted_file(&name) {
                continue;
            }
            found.push(Entry { name, kind: stat.kind, size: stat.size, modified: stat.modified });
        }
        Ok(found)
    }
}
