//! The guest's filesystem: its one preopen, the tenant's music dir read-only as `.`,
//! and `open-at`, replaced so that no file in a library can stall a worker thread.
//!
//! wasmtime-wasi opens files as `open(2)` does by default, which waits for a writer
//! when the path is a FIFO, so a FIFO named `x.mp3` would take a worker thread for
//! ever. Here every open is `O_NONBLOCK`: a FIFO or device opens at once and the guest
//! sees its type (a socket fails). Opens count against a cap per instance.
//!
//! Opens run on the worker, as every file call of a guest does. Moving them to the
//! blocking pool, so that a hung network mount would cost its request and not the
//! worker, cost a thread hop per request: in one benchmark run a small range took 157 µs
//! of CPU against 128, and 1000 slow readers peaked at 92 MiB against 34 (the pool's
//! threads each keep an allocator heap). A mount that hangs blocks the worker that
//! touches it; SIGTERM still ends the process on time.

use std::path::Path;

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt};
use cap_primitives::fs::{OpenOptions, OpenOptionsExt};
use wasmtime::StoreContextMut;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::filesystem::{Descriptor, Dir, File};
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, ErrorCode, OpenFlags, PathFlags,
};
use wasmtime_wasi::{FsPerms, OpenMode};

use super::state::GuestState;

/// Opens one instance may make in its request: a browse of a large folder opens each
/// track once and looks for covers beside them; a guest looping on `open-at` stops here.
pub(super) const MAX_OPENS_PER_INSTANCE: u32 = 4096;

/// Adds the preopen and `open-at` to `linker`, replacing wasmtime-wasi's.
pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> anyhow::Result<()> {
    linker.allow_shadowing(true);
    preopens::add_to_linker::<_, MusicDir>(linker, |state| MusicDirView {
        dir: &state.music_dir,
        table: &mut state.table,
    })?;
    linker.instance("wasi:filesystem/types@0.2.12")?.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, GuestState>,
         (dir, path_flags, path, open_flags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::new(async move {
                let state = store.data_mut();
                Ok((open_at(state, dir, path_flags, path, open_flags, flags).await?,))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

struct MusicDir;

impl HasData for MusicDir {
    type Data<'a> = MusicDirView<'a>;
}

struct MusicDirView<'a> {
    dir: &'a Dir,
    table: &'a mut ResourceTable,
}

/// wasmtime-wasi's own preopens reopen a path for every store (an `open` and a `close`
/// per request); this hands out the sandbox's one handle.
impl preopens::Host for MusicDirView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let dir = self.table.push(Descriptor::Dir(self.dir.clone()))?;
        Ok(vec![(dir, ".".to_owned())])
    }
}

async fn open_at(
    state: &mut GuestState,
    dir: Resource<Descriptor>,
    path_flags: PathFlags,
    path: String,
    open_flags: OpenFlags,
    flags: DescriptorFlags,
) -> wasmtime::Result<Result<Resource<Descriptor>, ErrorCode>> {
    let Descriptor::Dir(dir) = state.table.get(&dir)? else {
        return Ok(Err(ErrorCode::NotDirectory));
    };
    // The music dir is read-only: nothing may be created, truncated or written.
    if open_flags.intersects(OpenFlags::CREATE | OpenFlags::EXCLUSIVE | OpenFlags::TRUNCATE)
        || flags.intersects(DescriptorFlags::WRITE | DescriptorFlags::MUTATE_DIRECTORY)
    {
        return Ok(Err(ErrorCode::ReadOnly));
    }
    if state.opens >= MAX_OPENS_PER_INSTANCE {
        return Ok(Err(ErrorCode::Quota));
    }
    state.opens += 1;
    let perms = dir.perms;
    let opened = open_nonblocking(&dir.dir, &path, path_flags.contains(PathFlags::SYMLINK_FOLLOW));
    let descriptor = match opened {
        // A socket cannot be opened as a file; wasmtime-wasi would call that an I/O fault.
        Err(error) if error.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) => {
            return Ok(Err(ErrorCode::NoSuchDevice));
        }
        Err(error) => return Ok(Err(error.into())),
        Ok((file, true)) => Descriptor::Dir(Dir::new(file, perms, OpenMode::READ, true)),
        Ok(_) if open_flags.contains(OpenFlags::DIRECTORY) => {
            return Ok(Err(ErrorCode::NotDirectory));
        }
        Ok((file, false)) => Descriptor::File(File::new(file, perms, OpenMode::READ, true)),
    };
    Ok(Ok(state.table.push(descriptor)?))
}

/// Opens `path` beneath `from` without waiting on a FIFO or a terminal; says whether it
/// is a directory.
fn open_nonblocking(
    from: &std::fs::File,
    path: &str,
    follow: bool,
) -> std::io::Result<(std::fs::File, bool)> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .maybe_dir(true)
        .follow(if follow { FollowSymlinks::Yes } else { FollowSymlinks::No })
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32);
    let file = cap_primitives::fs::open(from, Path::new(path), &options)?;
    let is_dir = file.metadata()?.is_dir();
    Ok((file, is_dir))
}

/// The tenant's music dir as a directory handle for guests: read-only, `O_PATH` as
/// wasmtime-wasi opens a preopen (every access is relative to it).
pub(super) fn open_music_dir(path: &Path) -> std::io::Result<Dir> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let flags = rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::PATH;
    let dir =
        std::fs::OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(path)?;
    Ok(Dir::new(dir, FsPerms::ReadOnly, OpenMode::READ, true))
}
