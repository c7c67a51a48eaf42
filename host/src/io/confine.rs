//! Child processes (decoders) confined: no environment but PATH, no network where the kernel
//! allows a namespace of its own, resource limits, an optional uid of their own, and
//! death with the thread that started them.
//!
//! A decoder parses a tenant's file, which is hostile input, with the host's
//! privileges unless it is confined. The container format is forced per codec by the
//! caller, so it opens nothing by name; this makes the process harmless if it is
//! tricked into it anyway.

use std::io;
use std::os::unix::process::CommandExt as _;
use std::sync::OnceLock;

use rustix::process::{Gid, Resource, Rlimit, Signal, Uid};
use rustix::thread::UnshareFlags;

/// CPU seconds a decoder may use: far above a full decode of a ten-hour file here.
const CPU_SECS: u64 = 900;
/// Address space a decoder may map.
const ADDRESS_SPACE_BYTES: u64 = 1 << 30;
/// Descriptors a decoder may hold: its stdio and a few of its own.
const OPEN_FILES: u64 = 32;

/// Who decoders run as, when not as the server's own user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildUser {
    /// The uid.
    pub uid: u32,
    /// The gid; supplementary groups are dropped.
    pub gid: u32,
}

/// How a child gets an empty network namespace on this kernel, found once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetIsolation {
    /// `unshare(CLONE_NEWNET)`: the server may create namespaces (root, or CAP_SYS_ADMIN).
    Namespace,
    /// `unshare(CLONE_NEWUSER | CLONE_NEWNET)`: unprivileged namespaces are allowed.
    UserNamespace,
    /// Neither: children share the host's network.
    None,
}

impl NetIsolation {
    fn flags(self) -> Option<UnshareFlags> {
        match self {
            Self::Namespace => Some(UnshareFlags::NEWNET),
            Self::UserNamespace => Some(UnshareFlags::NEWUSER | UnshareFlags::NEWNET),
            Self::None => None,
        }
    }
}

static ISOLATION: OnceLock<(NetIsolation, Option<ChildUser>)> = OnceLock::new();

/// Finds how this kernel isolates a child's network, by starting `/bin/true` each way as
/// `user`, and fixes it and `user` for every child after. Logs where children stay on the
/// host's network.
pub fn init(user: Option<ChildUser>) {
    let found = [NetIsolation::Namespace, NetIsolation::UserNamespace]
        .into_iter()
        .find(|&isolation| {
            let mut probe = std::process::Command::new("/bin/true");
            apply(&mut probe, isolation, user);
            probe.status().is_ok_and(|status| status.success())
        })
        .unwrap_or(NetIsolation::None);
    if found == NetIsolation::None {
        tracing::warn!("no network namespaces here: decoders share the host's network");
    }
    ISOLATION.get_or_init(|| (found, user));
}

/// A child process killed and reaped when dropped, so that it lives exactly as long as
/// the stream it feeds. tokio reaps a dropped child only when some later child event
/// comes; this waits for it at once, so an idle server holds no zombie.
pub struct Reaped(Option<tokio::process::Child>);

impl Reaped {
    /// Takes charge of `child`.
    pub fn new(child: tokio::process::Child) -> Self {
        Self(Some(child))
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let Some(mut child) = self.0.take() else { return };
        _ = child.start_kill();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { _ = child.wait().await });
        }
    }
}

/// Confines `command`'s process as [`init`] found possible.
pub fn confine(command: &mut tokio::process::Command) {
    let (isolation, user) = *ISOLATION.get_or_init(|| (NetIsolation::None, None));
    // The environment is cleared but for PATH, which chooses the decoder programs as
    // the server's own PATH would.
    command.env_clear().current_dir("/");
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    apply(command.as_std_mut(), isolation, user);
}

fn apply(command: &mut std::process::Command, isolation: NetIsolation, user: Option<ChildUser>) {
    let unshare = isolation.flags();
    #[allow(unsafe_code, reason = "pre_exec: the confinement must happen in the child")]
    // SAFETY: the closure runs in the forked child before exec, so it may only make
    // async-signal-safe calls: each of these is one raw system call through rustix,
    // with no allocation and no lock.
    unsafe {
        command.pre_exec(move || {
            let limit = |resource, value| {
                rustix::process::setrlimit(
                    resource,
                    Rlimit { current: Some(value), maximum: Some(value) },
                )
            };
            limit(Resource::Cpu, CPU_SECS)?;
            limit(Resource::As, ADDRESS_SPACE_BYTES)?;
            limit(Resource::Nofile, OPEN_FILES)?;
            limit(Resource::Fsize, 0)?;
            limit(Resource::Core, 0)?;
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            if let Some(flags) = unshare {
                // SAFETY: a freshly forked child has one thread and shares no
                // descriptor table, so unsharing cannot surprise another thread.
                rustix::thread::unshare_unsafe(flags)?;
            }
            // The user changes last: a namespace of its own needs the server's rights,
            // which `Command::uid` would already have dropped before this closure runs.
            // The child has one thread, so the per-thread calls are the process's.
            if let Some(user) = user {
                rustix::thread::set_thread_groups(&[])?;
                rustix::thread::set_thread_gid(Gid::from_raw(user.gid))?;
                rustix::thread::set_thread_uid(Uid::from_raw(user.uid))?;
            }
            Ok::<(), io::Error>(())
        });
    }
}
