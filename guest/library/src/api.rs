//! The endpoints: each takes the request and the music dir, through [`MusicDir`], and
//! decides the [`Reply`]. The glue gives it the host's filesystem; tests and the `library`
//! example give it a directory on this machine.

use tapedeck_guest::open::OpenError;
use tapedeck_guest::path::{self, PathError};
use tapedeck_guest::precondition::Conditionals;
use tapedeck_guest::reply::{Body, Chunk, Method, Reply, Status};
use tapedeck_guest::{etag, mime};

use crate::json::{self, Object};
use crate::listing::{self, Entry, Kind, Listing};
use crate::media::picture::{self, Picture};
use crate::media::source::{ReadAt, Source};
use crate::media::{self, id3v2, ogg};
use crate::query::{self, Page};
use crate::respond::Validators;
use crate::route::{self, Route};
use crate::track::{self, TrackFile};
use crate::{page, validators};

/// What a file or directory is, symlinks followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// File or directory.
    pub kind: Kind,
    /// Bytes.
    pub size: u64,
    /// Seconds and nanoseconds after the Unix epoch.
    pub modified: (u64, u32),
}

/// The music dir, as the endpoints need it. Paths are relative ("" is the music dir
/// itself), already checked by `path::resolve`; implementations follow symlinks only
/// while they stay inside.
pub trait MusicDir {
    /// An open file.
    type File: ReadAt;

    /// What `path` is.
    fn stat(&self, path: &str) -> Result<Stat, OpenError>;

    /// Opens the regular file at `path`.
    fn open(&self, path: &str) -> Result<(Self::File, Stat), OpenError>;

    /// The entries of the directory at `path` that a listing shows: directories and the
    /// files [`listing::wanted_file`] accepts, symlinks followed, and none that lead
    /// outside the music dir, are hidden, or are neither file nor directory.
    fn list(&self, path: &str) -> Result<Vec<Entry>, OpenError>;
}

/// A request, as the glue read it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// GET or HEAD.
    pub method: Method,
    /// The path and query.
    pub target: &'a str,
    /// The conditional header fields.
    pub conditionals: Conditionals<'a>,
    /// The tenant's URL prefix, from [`crate::url::prefix`].
    pub prefix: &'a str,
}

/// A reply, and the file its [`Body::Representation`] spans are bytes of.
pub struct Answer<F> {
    /// The reply.
    pub reply: Reply,
    /// The file, when the body has spans.
    pub file: Option<F>,
}

impl<F> From<Reply> for Answer<F> {
    fn from(reply: Reply) -> Self {
        Self { reply, file: None }
    }
}

/// Answers `request`.
pub fn answer<D: MusicDir>(dir: &D, request: &Request) -> Answer<D::File> {
    let answered = match route::route(request.target) {
        Some(Route::Page) => Ok(page(request).into()),
        Some(Route::Track(raw)) => track(dir, request, raw).map(Answer::from),
        Some(Route::Browse(raw, query)) => browse(dir, request, raw, query).map(Answer::from),
        Some(Route::Cover(raw)) => cover(dir, request, raw),
        None => Err(Reply::error(Status::NotFound, "Not found")),
    };
    let Answer { reply, file } = answered.unwrap_or_else(Answer::from);
    Answer { reply: reply.for_method(request.method), file }
}

fn not_found(what: &str) -> Reply {
    Reply::error(Status::NotFound, what)
}

/// `/` and `/index.html`.
fn page(request: &Request) -> Reply {
    let validators = Validators { etag: page::etag(), modified_secs: None };
    if let Some(reply) = validators.check(&request.conditionals) {
        return reply;
    }
    let html = page::HTML.as_bytes();
    validators.ok("text/html; charset=utf-8", Body::Literal(html.to_vec()), html.len() as u64)
}

/// The relative path of a directory: the path with or without a trailing `/`, "" for the
/// music dir itself.
fn dir_path(raw: &str) -> Result<String, PathError> {
    let raw = raw.strip_suffix('/').unwrap_or(raw);
    if raw.is_empty() { Ok(String::new()) } else { path::resolve(raw) }
}

/// The cover picture file of the directory at `path`, if it has one.
fn dir_cover<D: MusicDir>(dir: &D, path: &str) -> Option<Entry> {
    Listing::new(dir.list(path).ok()?).cover
}

/// `/api/track/<path>`.
fn track<D: MusicDir>(dir: &D, request: &Request, raw: &str) -> Result<Reply, Reply> {
    let path = path::resolve(raw)?;
    let mime = mime::audio_type(&path).ok_or_else(|| not_found("File not found"))?;
    let (file, stat) = dir.open(&path)?;
    let folder = listing::parent(&path);
    let in_dir_cover = dir_cover(dir, folder).is_some();
    let file_tag = etag::strong(stat.size, stat.modified.0, stat.modified.1);
    // The directory changes when a cover picture file is added or removed beside the file.
    let folder_modified = dir.stat(folder).map_or(0, |folder| folder.modified.0);
    let validators = Validators {
        etag: validators::track(&file_tag, request.prefix, in_dir_cover),
        modified_secs: Some(stat.modified.0.max(folder_modified)),
    };
    if let Some(reply) = validators.check(&request.conditionals) {
        return Ok(reply);
    }
    let probed = media::probe(&mut Source::new(file, stat.size));
    if probed.properties.is_err() {
        return Err(Reply::error(Status::UnprocessableContent, "Unreadable media file"));
    }
    let mut json = String::with_capacity(768);
    let track_file = TrackFile { path: &path, size: stat.size, mime };
    track::write(
        &mut json,
        track_file,
        Some(&probed),
        probed.has_picture || in_dir_cover,
        request.prefix,
    );
    Ok(validators.json(json))
}

/// `/api/browse/<dir>`.
fn browse<D: MusicDir>(dir: &D, request: &Request, raw: &str, query: &str) -> Result<Reply, Reply> {
    let page = query::page(query).map_err(|_| Reply::error(Status::BadRequest, "Invalid query"))?;
    let path = dir_path(raw)?;
    let stat = dir.stat(&path)?;
    if stat.kind != Kind::Dir {
        return Err(not_found("Directory not found"));
    }
    let listing = Listing::new(dir.list(&path)?);
    let newest = listing
        .dirs
        .iter()
        .chain(&listing.tracks)
        .map(|entry| entry.modified.0)
        .fold(stat.modified.0, u64::max);
    let validators = Validators {
        etag: validators::browse(&path, request.prefix, page, &listing),
        modified_secs: Some(newest),
    };
    if let Some(reply) = validators.check(&request.conditionals) {
        return Ok(reply);
    }
    Ok(validators.json(browse_json(dir, &path, page, &listing, request.prefix)))
}

fn browse_json<D: MusicDir>(
    dir: &D,
    path: &str,
    page: Page,
    listing: &Listing,
    prefix: &str,
) -> String {
    let mut out = String::with_capacity(1024 + 768 * listing.tracks.len().min(page.limit));
    let mut object = Object::new(&mut out);
    object.string("path", path);
    let dirs = object.field("dirs");
    dirs.push('[');
    for (i, entry) in listing.dirs.iter().enumerate() {
        if i > 0 {
            dirs.push(',');
        }
        let mut item = Object::new(dirs);
        item.string("name", &entry.name);
        item.string("path", &listing::join(path, &entry.name));
        item.end();
    }
    dirs.push(']');
    let tracks = object.field("tracks");
    tracks.push('[');
    for (i, entry) in listing.tracks.iter().skip(page.offset).take(page.limit).enumerate() {
        if i > 0 {
            tracks.push(',');
        }
        let track_path = listing::join(path, &entry.name);
        let mime = mime::audio_type(&entry.name).unwrap_or("application/octet-stream");
        // A file that cannot be opened or parsed still appears, with nulls.
        let probed = dir
            .open(&track_path)
            .ok()
            .map(|(file, stat)| media::probe(&mut Source::new(file, stat.size)));
        let embedded = probed.as_ref().is_some_and(|probed| probed.has_picture);
        let track_file = TrackFile { path: &track_path, size: entry.size, mime };
        track::write(
            tracks,
            track_file,
            probed.as_ref(),
            embedded || listing.cover.is_some(),
            prefix,
        );
    }
    tracks.push(']');
    json::number(object.field("total"), listing.tracks.len() as u64);
    json::number(object.field("offset"), page.offset as u64);
    json::number(object.field("limit"), page.limit as u64);
    object.end();
    out
}

/// `/api/cover/<path>`: the embedded picture of a file, else the cover picture file of its
/// directory; for a directory, its cover picture file.
fn cover<D: MusicDir>(dir: &D, request: &Request, raw: &str) -> Result<Answer<D::File>, Reply> {
    let path = dir_path(raw)?;
    let stat = dir.stat(&path)?;
    let folder = match stat.kind {
        Kind::Dir => path.as_str(),
        Kind::File => {
            mime::audio_type(&path).ok_or_else(|| not_found("File not found"))?;
            let (file, stat) = dir.open(&path)?;
            let mut source = Source::new(file, stat.size);
            if let Some(picture) = media::front_cover(&mut source) {
                return embedded(request, source, stat, picture);
            }
            listing::parent(&path)
        }
    };
    let image = dir_cover(dir, folder).ok_or_else(|| not_found("No cover"))?;
    let (file, stat) = dir.open(&listing::join(folder, &image.name))?;
    let mut validators = cover_validators(stat);
    // Another picture file may take this one's place with an older mtime; the directory's
    // own mtime changes when it does.
    let folder_modified = dir.stat(folder).map_or(0, |folder| folder.modified.0);
    validators.modified_secs = validators.modified_secs.max(Some(folder_modified));
    if let Some(reply) = validators.check(&request.conditionals) {
        return Ok(reply.into());
    }
    let content_type = picture::image_type(&image.name).unwrap_or("application/octet-stream");
    let body = Body::Representation(vec![Chunk::Span { start: 0, len: stat.size }]);
    Ok(Answer { reply: image_reply(&validators, content_type, body, stat.size), file: Some(file) })
}

fn cover_validators(stat: Stat) -> Validators {
    let file_tag = etag::strong(stat.size, stat.modified.0, stat.modified.1);
    Validators { etag: validators::cover(&file_tag), modified_secs: Some(stat.modified.0) }
}

/// A picture's reply: never sniffed by the browser as anything but the declared image.
fn image_reply(validators: &Validators, content_type: &str, body: Body, len: u64) -> Reply {
    validators
        .ok(content_type, body, len)
        .with_header("x-content-type-options", "nosniff".to_owned())
}

/// The reply for a picture embedded in the file read by `source`.
fn embedded<R: ReadAt>(
    request: &Request,
    mut source: Source<R>,
    stat: Stat,
    picture: Picture,
) -> Result<Answer<R>, Reply> {
    let validators = cover_validators(stat);
    if let Some(reply) = validators.check(&request.conditionals) {
        return Ok(reply.into());
    }
    let unreadable = || Reply::error(Status::UnprocessableContent, "Unreadable picture");
    let (head, body, len) = match picture.body {
        picture::Body::Span { offset, len } => {
            let head = source.up_to(offset, 16);
            (head, Body::Representation(vec![Chunk::Span { start: offset, len }]), len)
        }
        picture::Body::Unsynchronised { offset, len, skip, image_len } => {
            let image = id3v2::unsynchronised_image(&mut source, offset, len, skip, image_len);
            literal(image.ok_or_else(unreadable)?)
        }
        picture::Body::OggComment { offset, len } => {
            literal(ogg::picture_bytes(&mut source, offset, len).ok_or_else(unreadable)?)
        }
    };
    let content_type = picture::sniff(&head).unwrap_or("application/octet-stream");
    let file = matches!(body, Body::Representation(_)).then(|| source.into_inner());
    Ok(Answer { reply: image_reply(&validators, content_type, body, len), file })
}

/// A decoded picture as a literal body, with its first bytes to sniff.
fn literal(bytes: Vec<u8>) -> (Vec<u8>, Body, u64) {
    let head = bytes[..bytes.len().min(16)].to_vec();
    let len = bytes.len() as u64;
    (head, Body::Literal(bytes), len)
}

#[cfg(test)]
mod tests;
