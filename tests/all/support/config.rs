//! Config files for `tapedeck serve --config`: a temporary folder to write them in, and a
//! builder for `[[tenant]]` tables, so tests state only what differs.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// A temporary folder holding config files and guest copies; removed when dropped.
pub struct ConfigDir {
    dir: tempfile::TempDir,
}

impl ConfigDir {
    pub fn new() -> ConfigDir {
        let dir = tempfile::Builder::new().prefix("tapedeck-config-").tempdir().expect("temp dir");
        ConfigDir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `name` in the folder; returns its path.
    pub fn write(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("writing `{}`: {e}", path.display()));
        path
    }

    /// Replaces `name` in the folder by `bytes` at once (write a sibling, then rename), the
    /// way a deploy replaces a file a server may read at any moment.
    pub fn replace(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let staging = self.write(&format!(".{name}.new"), bytes);
        let path = self.dir.path().join(name);
        fs::rename(&staging, &path).expect("rename into place");
        path
    }

    /// Writes a config of `tenants` with the public listener (and, with `admin`, the admin
    /// listener) on ephemeral ports; returns its path.
    pub fn config(&self, name: &str, admin: bool, tenants: &[Tenant]) -> PathBuf {
        self.write(name, config_toml(admin, "", tenants))
    }
}

/// A whole config: listeners on ephemeral loopback ports, `extra` top-level lines, tenants.
pub fn config_toml(admin: bool, extra: &str, tenants: &[Tenant]) -> String {
    config_toml_at("127.0.0.1:0", admin.then_some("127.0.0.1:0"), extra, tenants)
}

/// A whole config with the listeners at `listen` and `admin` (those of a running server, for
/// a config it reloads), `extra` top-level lines, tenants.
pub fn config_toml_at(
    listen: &str,
    admin: Option<&str>,
    extra: &str,
    tenants: &[Tenant],
) -> String {
    let mut toml = format!("listen = {}\n", quoted(listen));
    if let Some(admin) = admin {
        let _ = writeln!(toml, "admin_listen = {}", quoted(admin));
    }
    toml.push_str(extra);
    for tenant in tenants {
        toml.push('\n');
        toml.push_str(&tenant.toml());
    }
    toml
}

/// One `[[tenant]]` table.
#[derive(Clone)]
pub struct Tenant {
    name: String,
    music_dir: String,
    hosts: Vec<String>,
    path_prefix: Option<String>,
    guest: Option<String>,
    token: Option<String>,
    limits: Vec<(String, u64)>,
}

impl Tenant {
    /// Tenant `name` serving `music_dir` (absolute, or relative to the config file).
    pub fn new(name: &str, music_dir: &Path) -> Tenant {
        Tenant {
            name: name.to_owned(),
            music_dir: music_dir.to_string_lossy().into_owned(),
            hosts: Vec::new(),
            path_prefix: None,
            guest: None,
            token: None,
            limits: Vec::new(),
        }
    }

    pub fn hosts(mut self, hosts: &[&str]) -> Tenant {
        self.hosts = hosts.iter().map(|h| (*h).to_owned()).collect();
        self
    }

    pub fn path_prefix(mut self, prefix: &str) -> Tenant {
        self.path_prefix = Some(prefix.to_owned());
        self
    }

    pub fn guest(mut self, guest: &Path) -> Tenant {
        self.guest = Some(guest.to_string_lossy().into_owned());
        self
    }

    pub fn token(mut self, token: &str) -> Tenant {
        self.token = Some(token.to_owned());
        self
    }

    /// A `[tenant.limits]` field, such as `("max_requests", 1)`.
    pub fn limit(mut self, name: &str, value: u64) -> Tenant {
        self.limits.push((name.to_owned(), value));
        self
    }

    /// The table as TOML.
    pub fn toml(&self) -> String {
        let mut toml = String::from("[[tenant]]\n");
        let _ = writeln!(toml, "name = {}", quoted(&self.name));
        let _ = writeln!(toml, "music_dir = {}", quoted(&self.music_dir));
        if !self.hosts.is_empty() {
            let hosts: Vec<String> = self.hosts.iter().map(|h| quoted(h)).collect();
            let _ = writeln!(toml, "hosts = [{}]", hosts.join(", "));
        }
        for (key, value) in
            [("path_prefix", &self.path_prefix), ("guest", &self.guest), ("token", &self.token)]
        {
            if let Some(value) = value {
                let _ = writeln!(toml, "{key} = {}", quoted(value));
            }
        }
        if !self.limits.is_empty() {
            toml.push_str("[tenant.limits]\n");
            for (key, value) in &self.limits {
                let _ = writeln!(toml, "{key} = {value}");
            }
        }
        toml
    }
}

/// A TOML basic string.
pub fn quoted(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
