//! [`MusicDir`] over the host's preopen: the music dir, read-only. The host's
//! capability-based filesystem refuses any path or symlink that leads outside it, with
//! `not-permitted`, so such entries are simply not listed.

use tapedeck_guest::open::OpenError;
use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};

use crate::api::{MusicDir, Stat};
use crate::listing::{self, Entry, Kind};
use crate::media::source::ReadAt;

/// The music dir, the instance's only preopen.
pub struct HostDir {
    root: Descriptor,
}

/// A file of the music dir, open for reading.
pub struct HostFile(Descriptor);

impl HostFile {
    /// The descriptor, for `file-body.send`.
    pub fn descriptor(&self) -> &Descriptor {
        &self.0
    }
}

impl ReadAt for HostFile {
    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let (mut bytes, mut end) =
            self.0.read(len as u64, offset).map_err(std::io::Error::other)?;
        // The host may return less than asked before the end; the rest is read after it.
        while !end && bytes.len() < len {
            let at = offset + bytes.len() as u64;
            let (more, at_end) =
                self.0.read((len - bytes.len()) as u64, at).map_err(std::io::Error::other)?;
            end = at_end || more.is_empty();
            bytes.extend(more);
        }
        bytes.truncate(len);
        Ok(bytes)
    }
}

impl HostDir {
    /// The preopen, if the host gave one.
    pub fn open() -> Option<Self> {
        let (root, _) = get_directories().into_iter().next()?;
        Some(Self { root })
    }

    /// `path` opened as a directory; "" is the music dir itself.
    fn dir(&self, path: &str) -> Result<Option<Descriptor>, OpenError> {
        if path.is_empty() {
            return Ok(None);
        }
        let flags = OpenFlags::DIRECTORY;
        let dir = self
            .root
            .open_at(PathFlags::SYMLINK_FOLLOW, path, flags, DescriptorFlags::READ)
            .map_err(error)?;
        Ok(Some(dir))
    }
}

/// The answer to a failed open, by error code.
fn error(code: ErrorCode) -> OpenError {
    match code {
        ErrorCode::NotPermitted => OpenError::NotPermitted,
        ErrorCode::Access => OpenError::Access,
        ErrorCode::Loop => OpenError::Loop,
        ErrorCode::NoEntry => OpenError::NoEntry,
        ErrorCode::NotDirectory => OpenError::NotDirectory,
        ErrorCode::IsDirectory => OpenError::IsDirectory,
        ErrorCode::NameTooLong => OpenError::NameTooLong,
        ErrorCode::IllegalByteSequence => OpenError::IllegalByteSequence,
        ErrorCode::Invalid => OpenError::Invalid,
        _ => OpenError::Other,
    }
}

fn stat(found: &DescriptorStat) -> Option<Stat> {
    let kind = match found.type_ {
        DescriptorType::RegularFile => Kind::File,
        DescriptorType::Directory => Kind::Dir,
        _ => return None,
    };
    let modified =
        found.data_modification_timestamp.map_or((0, 0), |time| (time.seconds, time.nanoseconds));
    Some(Stat { kind, size: found.size, modified })
}

impl MusicDir for HostDir {
    type File = HostFile;

    fn stat(&self, path: &str) -> Result<Stat, OpenError> {
        let found = if path.is_empty() {
            self.root.stat()
        } else {
            self.root.stat_at(PathFlags::SYMLINK_FOLLOW, path)
        };
        stat(&found.map_err(error)?).ok_or(OpenError::NotRegularFile)
    }

    fn open(&self, path: &str) -> Result<(HostFile, Stat), OpenError> {
        let file = self
            .root
            .open_at(PathFlags::SYMLINK_FOLLOW, path, OpenFlags::empty(), DescriptorFlags::READ)
            .map_err(error)?;
        let found = stat(&file.stat().map_err(error)?).filter(|found| found.kind == Kind::File);
        let found = found.ok_or(OpenError::NotRegularFile)?;
        Ok((HostFile(file), found))
    }

    fn list(&self, path: &str) -> Result<Vec<Entry>, OpenError> {
        let opened = self.dir(path)?;
        let dir = opened.as_ref().unwrap_or(&self.root);
        let entries = dir.read_directory().map_err(error)?;
        let mut found = Vec::new();
        // An entry the host cannot read (a name that is not UTF-8) ends the listing.
        while let Ok(Some(entry)) = entries.read_directory_entry() {
            if listing::hidden(&entry.name) {
                continue;
            }
            let wanted = match entry.type_ {
                DescriptorType::Directory => true,
                DescriptorType::RegularFile => listing::wanted_file(&entry.name),
                // Followed below: the preopen refuses one that leads outside.
                DescriptorType::SymbolicLink => true,
                _ => false,
            };
            if !wanted {
                continue;
            }
            let Some(target) =
                dir.stat_at(PathFlags::SYMLINK_FOLLOW, &entry.name).ok().as_ref().and_then(stat)
            else {
                continue;
            };
            if target.kind == Kind::File && !listing::wanted_file(&entry.name) {
                continue;
            }
            found.push(Entry {
                name: entry.name,
                kind: target.kind,
                size: target.size,
                modified: target.modified,
            });
        }
        Ok(found)
    }
}
