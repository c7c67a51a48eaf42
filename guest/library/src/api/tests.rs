//! The endpoints end to end over a real directory (see [`crate::native`]), with WAV files
//! made here.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use tapedeck_guest::precondition::Conditionals;
use tapedeck_guest::reply::{Body, Chunk, Method, Reply, Status};

use super::{Request, answer};
use crate::native::NativeDir;

/// A music dir under the system's temp dir, removed when dropped.
struct Music(PathBuf);

impl Music {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let root =
            std::env::temp_dir().join(format!("tapedeck-library-{}-{n}", std::process::id()));
        _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Self(root)
    }

    fn file(&self, path: &str, bytes: &[u8]) -> &Self {
        let path = self.0.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        self
    }

    fn link(&self, path: &str, target: &Path) -> &Self {
        std::os::unix::fs::symlink(target, self.0.join(path)).unwrap();
        self
    }

    fn get(&self, target: &str) -> (Reply, Option<std::fs::File>) {
        self.request(Method::Get, target, Conditionals::default())
    }

    fn request(
        &self,
        method: Method,
        target: &str,
        conditionals: Conditionals,
    ) -> (Reply, Option<std::fs::File>) {
        let dir = NativeDir::new(&self.0).unwrap();
        let request = Request { method, target, conditionals, prefix: "/alice" };
        let answer = answer(&dir, &request);
        (answer.reply, answer.file)
    }
}

impl Drop for Music {
    fn drop(&mut self) {
        _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A mono 16-bit WAV of `frames` frames at 8 kHz, with a RIFF INFO title and, if given,
/// an `id3 ` chunk.
fn wav(frames: u32, title: &str, id3: Option<&[u8]>) -> Vec<u8> {
    let mut chunks = Vec::new();
    let mut chunk = |id: &[u8], body: &[u8]| {
        chunks.extend(id);
        chunks.extend((body.len() as u32).to_le_bytes());
        chunks.extend(body);
        if body.len() % 2 == 1 {
            chunks.push(0);
        }
    };
    let mut format = Vec::new();
    for (n, width) in [(1u32, 2), (1, 2), (8000, 4), (16_000, 4), (2, 2), (16, 2)] {
        format.extend(&n.to_le_bytes()[..width]);
    }
    chunk(b"fmt ", &format);
    let mut info = b"INFOINAM".to_vec();
    info.extend((title.len() as u32 + 1).to_le_bytes());
    info.extend(title.as_bytes());
    info.push(0);
    if info.len() % 2 == 1 {
        info.push(0);
    }
    chunk(b"LIST", &info);
    if let Some(tag) = id3 {
        chunk(b"id3 ", tag);
    }
    chunk(b"data", &vec![0; frames as usize * 2]);
    let mut file = b"RIFF".to_vec();
    file.extend((chunks.len() as u32 + 4).to_le_bytes());
    file.extend(b"WAVE");
    file.extend(chunks);
    file
}

/// An ID3v2.3 tag holding one front-cover APIC frame of `image`.
fn id3_with_picture(image: &[u8]) -> Vec<u8> {
    let mut frame = b"\x00image/png\x00\x03\x00".to_vec();
    frame.extend(image);
    let mut body = b"APIC".to_vec();
    body.extend((frame.len() as u32).to_be_bytes());
    body.extend([0, 0]);
    body.extend(frame);
    crate::media::id3v2::tag(3, 0, &body)
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0123456789";

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.iter().find(|(field, _)| *field == name).map(|(_, value)| value.as_str())
}

fn json(reply: &Reply) -> String {
    match &reply.body {
        Body::Literal(bytes) => String::from_utf8(bytes.clone()).unwrap(),
        body => panic!("not JSON: {body:?}"),
    }
}

#[test]
fn a_track_is_described_with_absolute_urls() {
    let music = Music::new();
    music.file("Album/01 - One é.wav", &wav(16_000, "One", None)).file("Album/cover.JPG", PNG);
    let (reply, file) = music.get("/api/track/Album/01%20-%20One%20%C3%A9.wav?token=x");
    assert_eq!(reply.status, Status::Ok);
    assert!(file.is_none());
    assert_eq!(header(&reply, "content-type"), Some("application/json"));
    assert_eq!(header(&reply, "cache-control"), Some("no-cache"));
    let body = json(&reply);
    assert_eq!(header(&reply, "content-length"), Some(body.len().to_string().as_str()));
    for part in [
        r#""path":"Album/01 - One é.wav""#,
        r#""codec":"pcm","duration":2.0,"bitrate":128000,"sample_rate":8000,"channels":1,"bits_per_sample":16"#,
        r#""title":"One""#,
        r#""cover":"/alice/api/cover/Album/01%20-%20One%20%C3%A9.wav""#,
        r#""play":"/alice/stream/Album/01%20-%20One%20%C3%A9.wav""#,
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
}

#[test]
fn errors_have_the_stream_statuses() {
    let music = Music::new();
    music
        .file("a.wav", &wav(10, "a", None))
        .file("notes.txt", b"x")
        .file("bad.wav", b"RIFF....WAVEjunk");
    music.link("out.wav", Path::new("/etc/passwd"));
    #[rustfmt::skip]
    let cases = [
        ("/api/track/missing.wav", Status::NotFound), ("/api/track/notes.txt", Status::NotFound),
        ("/api/track/..%2Fa.wav", Status::Forbidden), ("/api/track/a%00.wav", Status::BadRequest),
        ("/api/track/%C3%28.wav", Status::BadRequest), ("/api/track/out.wav", Status::Forbidden),
        ("/api/track/bad.wav", Status::UnprocessableContent), ("/api/track/.a.wav", Status::NotFound),
        ("/api/browse/a.wav", Status::NotFound), ("/api/browse/nope", Status::NotFound),
        ("/api/browse/?limit=x", Status::BadRequest), ("/api/cover/a.wav", Status::NotFound),
        ("/api/cover/notes.txt", Status::NotFound), ("/api/elsewhere", Status::NotFound), ("/stream/a.wav", Status::NotFound),
    ];
    for (target, status) in cases {
        for method in [Method::Get, Method::Head] {
            let (reply, _) = music.request(method, target, Conditionals::default());
            assert_eq!(reply.status, status, "{method:?} {target}");
            assert_eq!(header(&reply, "content-type"), Some("application/json"), "{target}");
            assert_eq!(reply.body == Body::Empty, method == Method::Head, "{method:?} {target}");
        }
    }
}

#[test]
fn browse_lists_in_natural_order_and_pages_the_tracks() {
    let music = Music::new();
    music
        .file("10 - ten.wav", &wav(10, "ten", None))
        .file("2 - two.wav", &wav(10, "two", None))
        .file("1 - One.WAV", &wav(10, "one", None))
        .file("3 - corrupt.wav", b"garbage")
        .file(".hidden.wav", &wav(10, "h", None))
        .file("notes.txt", b"x")
        .file("Sub 10/x.wav", &wav(10, "x", None))
        .file("sub 2/.keep", b"")
        .file(".dotdir/y.wav", &wav(10, "y", None));
    music.link("escape.wav", Path::new("/etc/passwd")).link("outside", Path::new("/tmp"));
    music.link("4 - link.wav", Path::new("2 - two.wav"));
    let (reply, _) = music.get("/api/browse/");
    assert_eq!(reply.status, Status::Ok);
    let body = json(&reply);
    assert!(body.starts_with(r#"{"path":"","dirs":[{"name":"sub 2","path":"sub 2"},{"name":"Sub 10","path":"Sub 10"}],"tracks":["#), "{body}");
    let order: Vec<_> =
        ["1 - One.WAV", "2 - two.wav", "3 - corrupt.wav", "4 - link.wav", "10 - ten.wav"]
            .iter()
            .map(|name| {
                body.find(&format!(r#""path":"{name}""#))
                    .unwrap_or_else(|| panic!("{name} in {body}"))
            })
            .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{body}");
    for absent in ["hidden", "notes", "escape", "outside", "dotdir"] {
        assert!(!body.contains(absent), "{absent} in {body}");
    }
    assert!(
        body.contains(r#""path":"3 - corrupt.wav","size":7,"mime":"audio/wav","codec":null"#),
        "{body}"
    );
    assert!(body.ends_with(r#""total":5,"offset":0,"limit":100}"#), "{body}");

    let (page, _) = music.get("/api/browse?offset=1&limit=2");
    let page = json(&page);
    assert!(
        page.contains(r#""path":"2 - two.wav""#) && page.contains(r#""path":"3 - corrupt.wav""#),
        "{page}"
    );
    assert!(
        !page.contains(r#""path":"1 - One.WAV""#) && !page.contains(r#""path":"4 - link.wav""#),
        "{page}"
    );
    assert!(page.ends_with(r#""total":5,"offset":1,"limit":2}"#), "{page}");

    let (sub, _) = music.get("/api/browse/Sub%2010/");
    let sub = json(&sub);
    assert!(
        sub.starts_with(r#"{"path":"Sub 10","dirs":[],"tracks":[{"path":"Sub 10/x.wav""#),
        "{sub}"
    );
}

#[test]
fn validators_give_304s() {
    let music = Music::new();
    music.file("a.wav", &wav(10, "a", None));
    for target in ["/api/track/a.wav", "/api/browse/", "/"] {
        let (first, _) = music.get(target);
        let etag = header(&first, "etag").unwrap().to_owned();
        let conditionals = Conditionals { if_none_match: Some(&etag), ..Conditionals::default() };
        let (again, _) = music.request(Method::Get, target, conditionals);
        assert_eq!(again.status, Status::NotModified, "{target}");
        assert_eq!(header(&again, "etag"), Some(etag.as_str()));
        assert_eq!(again.body, Body::Empty);
        let stale = Conditionals { if_none_match: Some(r#""stale""#), ..Conditionals::default() };
        assert_eq!(music.request(Method::Get, target, stale).0.status, Status::Ok, "{target}");
    }
    // A new file changes the listing's tag.
    let (before, _) = music.get("/api/browse/");
    music.file("b.wav", &wav(10, "b", None));
    let (after, _) = music.get("/api/browse/");
    assert_ne!(header(&before, "etag"), header(&after, "etag"));
}

#[test]
fn covers_are_embedded_spans_else_the_directory_picture() {
    let music = Music::new();
    let tag = id3_with_picture(PNG);
    let with_picture = wav(10, "p", Some(&tag));
    music
        .file("A/pic.wav", &with_picture)
        .file("A/plain.wav", &wav(10, "q", None))
        .file("A/folder.png", PNG);
    music.file("B/none.wav", &wav(10, "n", None));

    let (reply, file) = music.get("/api/cover/A/pic.wav");
    assert_eq!(reply.status, Status::Ok);
    assert_eq!(header(&reply, "content-type"), Some("image/png"));
    assert_eq!(header(&reply, "x-content-type-options"), Some("nosniff"));
    let Body::Representation(chunks) = &reply.body else { panic!("{reply:?}") };
    let [Chunk::Span { start, len }] = chunks[..] else { panic!("{chunks:?}") };
    assert_eq!(&with_picture[start as usize..(start + len) as usize], PNG);
    assert!(file.is_some());

    for target in ["/api/cover/A/plain.wav", "/api/cover/A", "/api/cover/A/"] {
        let (reply, file) = music.get(target);
        assert_eq!(reply.status, Status::Ok, "{target}");
        assert_eq!(
            reply.body,
            Body::Representation(vec![Chunk::Span { start: 0, len: PNG.len() as u64 }]),
            "{target}"
        );
        assert!(file.is_some());
    }
    for target in ["/api/cover/B/none.wav", "/api/cover/B", "/api/cover/"] {
        assert_eq!(music.get(target).0.status, Status::NotFound, "{target}");
    }
    let (listing, _) = music.get("/api/browse/B");
    assert!(json(&listing).contains(r#""cover":null"#));
}

#[test]
fn the_page_is_html() {
    let music = Music::new();
    let (reply, _) = music.get("/index.html");
    assert_eq!(reply.status, Status::Ok);
    assert_eq!(header(&reply, "content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(header(&reply, "cache-control"), Some("no-cache"));
    assert_eq!(header(&reply, "last-modified"), None);
    let since = Conditionals {
        if_modified_since: Some("Fri, 31 Dec 9999 23:59:59 GMT"),
        ..Conditionals::default()
    };
    assert_eq!(music.request(Method::Get, "/", since).0.status, Status::Ok);
}
