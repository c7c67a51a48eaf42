//! `/escape/files`: tries to read files outside the music dir, through `std::fs` and through
//! every preopened directory, and lists what the preopens contain.

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};

use crate::json::{self, Object};

/// Paths that must stay out of reach, whatever the preopen or working directory is.
const OUTSIDE_PATHS: &[&str] = &[
    "/etc/passwd",
    "/etc/hostname",
    "/proc/self/environ",
    "../etc/passwd",
    "../../../../../../../../etc/passwd",
    "..",
    "../..",
    "/",
    "outside-link",
    "outside-link.mp3",
];

/// A file the test places inside the music dir: reading it through the preopen must work, or
/// the failures above prove nothing.
pub const CONTROL_FILE: &str = "control.mp3";

/// Runs every attempt and renders `{"preopens": [...], "attempts": {...}, "controls": {...}}`.
/// `extra` are more paths to try, given by the test (`?try=…`), such as the absolute host path
/// of a secret file or a sibling directory of the music dir.
pub fn report(extra: &[String]) -> String {
    let targets: Vec<&str> =
        OUTSIDE_PATHS.iter().copied().chain(extra.iter().map(String::as_str)).collect();
    let preopens = get_directories();

    let mut attempts = Object::new();
    for path in &targets {
        attempts = attempts.string(&format!("std:{path}"), &std_read(path));
    }
    for (index, (dir, _name)) in preopens.iter().enumerate() {
        for path in &targets {
            for (label, flags) in
                [("follow", PathFlags::SYMLINK_FOLLOW), ("nofollow", PathFlags::empty())]
            {
                let key = format!("preopen{index}:{label}:{path}");
                attempts = attempts.string(&key, &open_and_read(dir, flags, path));
            }
        }
    }

    let mut controls = Object::new();
    for (index, (dir, _name)) in preopens.iter().enumerate() {
        let key = format!("preopen{index}:{CONTROL_FILE}");
        controls = controls.string(&key, &open_and_read(dir, PathFlags::empty(), CONTROL_FILE));
    }

    let listed: Vec<String> = preopens
        .iter()
        .map(|(dir, name)| Object::new().string("name", name).raw("entries", list(dir)).finish())
        .collect();

    Object::new()
        .raw("preopens", format!("[{}]", listed.join(",")))
        .raw("attempts", attempts.finish())
        .raw("controls", controls.finish())
        .finish()
}

/// Reads `path` with `std::fs`, which resolves absolute paths against the preopens and relative
/// ones against the initial working directory; a directory is listed instead.
fn std_read(path: &str) -> String {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => json::outcome(std::fs::read_dir(path), |entries| {
            let mut names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            format!("dir:{}", names.join("|"))
        }),
        _ => json::outcome(std::fs::read(path), |bytes| json::preview(&bytes)),
    }
}

/// Opens `path` under a preopen with `open-at` and reads it (or lists it, if a directory).
fn open_and_read(dir: &Descriptor, flags: PathFlags, path: &str) -> String {
    let opened = match dir.open_at(flags, path, OpenFlags::empty(), DescriptorFlags::READ) {
        Ok(opened) => opened,
        Err(e) => return format!("err:{}", e.name()),
    };
    match opened.read(64 * 1024, 0) {
        Ok((bytes, _eof)) => format!("ok:{}", json::preview(&bytes)),
        // A directory cannot be read, but opening it already escaped: report what it holds.
        Err(_) => {
            format!("ok:dir:{}", names(&opened).unwrap_or_else(|e| format!("unlistable ({e})")))
        }
    }
}

/// The entries of a preopen as a JSON array of names.
fn list(dir: &Descriptor) -> String {
    match names(dir) {
        Ok(names) => json::strings(&names.split('|').filter(|n| !n.is_empty()).collect::<Vec<_>>()),
        Err(e) => json::string(&format!("err:{e}")),
    }
}

/// The entry names of `dir`, joined by `|`.
fn names(dir: &Descriptor) -> Result<String, &'static str> {
    let stream = dir.read_directory().map_err(|e| e.name())?;
    let mut names = Vec::new();
    while let Some(entry) = stream.read_directory_entry().map_err(|e| e.name())? {
        names.push(entry.name);
    }
    names.sort();
    Ok(names.join("|"))
}

/// `/escape/write`: tries to change the music dir through its preopen (create, write,
/// truncate, delete, rename, make a directory) and through `std::fs`; renders
/// `{"attempts": {...}}` with `"ok:…"` or `"err:…"` for each.
pub fn write_report() -> String {
    let mut attempts = Object::new();
    for (index, (dir, _name)) in get_directories().iter().enumerate() {
        let open = |flags: OpenFlags, access: DescriptorFlags| {
            dir.open_at(PathFlags::empty(), CONTROL_FILE, flags, access)
        };
        let tries = [
            (
                "create",
                dir.open_at(
                    PathFlags::empty(),
                    "created-by-guest.mp3",
                    OpenFlags::CREATE,
                    DescriptorFlags::READ | DescriptorFlags::WRITE,
                )
                .map(drop),
            ),
            ("open_for_write", open(OpenFlags::empty(), DescriptorFlags::WRITE).map(drop)),
            ("truncate", open(OpenFlags::TRUNCATE, DescriptorFlags::READ).map(drop)),
            (
                "write_through_a_read_handle",
                open(OpenFlags::empty(), DescriptorFlags::READ)
                    .and_then(|file| file.write(b"overwritten", 0))
                    .map(drop),
            ),
            ("delete", dir.unlink_file_at(CONTROL_FILE)),
            ("rename", dir.rename_at(CONTROL_FILE, dir, "renamed.mp3")),
            ("mkdir", dir.create_directory_at("made-by-guest")),
        ];
        for (name, result) in tries {
            let key = format!("preopen{index}:{name}");
            attempts = attempts.string(&key, &json::outcome(result, |()| "done".into()));
        }
    }
    let std_create = std::fs::write("std-created.mp3", b"x");
    attempts = attempts.string("std:create", &json::outcome(std_create, |()| "done".into()));
    Object::new().raw("attempts", attempts.finish()).finish()
}
