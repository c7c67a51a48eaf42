//! `/api/cover`: the embedded front cover (else the first embedded picture) byte for byte
//! with its image type, for every picture format; else a `cover.*`/`folder.*`/`front.*`
//! picture beside the file; a directory's own picture; 404 JSON when there is none.

use crate::support::api::{
    assert_error, assert_revalidates, browse_url, cover_url, get_json, track_url,
};
use crate::support::tagged::{
    BACK, Encoding, FRONT, Picture, SONG, TagKind, make, picture, untagged,
};
use crate::support::{Library, TestServer, assert_same_bytes};

const MP3: Encoding = Encoding::short("mp3", &["-c:a", "libmp3lame", "-b:a", "32k"]);
const FLAC: Encoding = Encoding::short("flac", &["-c:a", "flac"]);

/// Which of the embedded pictures the answer must be.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Front,
    /// MP4 `covr` has no picture types: the first one.
    First,
}

#[test]
fn the_embedded_front_cover_is_served_byte_for_byte_with_its_image_type() {
    // A back cover first, then the front cover: only the front one may come back.
    let back = picture(BACK, "blue", "image/png");
    let front = picture(FRONT, "red", "image/jpeg");
    let both = [back.clone(), front.clone()];
    #[rustfmt::skip]
    let rows: &[(&str, Encoding, TagKind, Expect)] = &[
        ("ID3v2.4 APIC", MP3, TagKind::Id3v24, Expect::Front),
        ("ID3v2.3 APIC", MP3, TagKind::Id3v23, Expect::Front),
        ("ID3v2.2 PIC", MP3, TagKind::Id3v22, Expect::Front),
        ("FLAC PICTURE", FLAC, TagKind::Vorbis, Expect::Front),
        ("Vorbis METADATA_BLOCK_PICTURE", Encoding::short("ogg", &["-c:a", "libvorbis"]), TagKind::Vorbis, Expect::Front),
        ("Opus METADATA_BLOCK_PICTURE", Encoding::short("opus", &["-c:a", "libopus"]), TagKind::Vorbis, Expect::Front),
        ("MP4 covr", Encoding::short("m4a", &["-c:a", "aac"]), TagKind::Mp4, Expect::First),
        ("ALAC covr", Encoding::short("m4a", &["-c:a", "alac"]), TagKind::Mp4, Expect::First),
        ("ASF WM/Picture", Encoding::short("wma", &["-c:a", "wmav2"]), TagKind::Asf, Expect::Front),
        ("APEv2 Cover Art", Encoding::short("wv", &["-c:a", "wavpack"]), TagKind::Ape, Expect::Front),
    ];
    let library = Library::empty();
    // A picture beside them that must lose to every embedded one.
    library.add("Embedded/cover.jpg", &picture(FRONT, "green", "image/jpeg").bytes);
    let files: Vec<String> = rows
        .iter()
        .map(|(name, encoding, kind, _)| {
            let rel = format!("Embedded/{name}.{}", encoding.ext);
            library.add(&rel, &make(encoding, *kind, Some(&SONG), &both));
            rel
        })
        .collect();
    // Only a back cover: it is the first picture, so it is the one.
    library.add(
        "Embedded/back only.flac",
        &make(&FLAC, TagKind::Vorbis, Some(&SONG), std::slice::from_ref(&back)),
    );
    let server = TestServer::start(library);

    let mut cases: Vec<(&str, &Picture)> = rows
        .iter()
        .zip(&files)
        .map(|((_, _, _, expect), rel)| {
            (
                rel.as_str(),
                match expect {
                    Expect::Front => &front,
                    Expect::First => &back,
                },
            )
        })
        .collect();
    cases.push(("Embedded/back only.flac", &back));
    for (rel, want) in cases {
        let response = assert_revalidates(&server, &cover_url(rel), &[]);
        assert_eq!(response.header("content-type").as_deref(), Some(want.mime), "{rel}");
        assert_same_bytes(&response.body, &want.bytes, rel);
        let track = get_json(&server, &track_url(rel), &[]);
        assert_eq!(track["cover"], cover_url(rel), "{rel}: {track}");
    }
}

/// A folder, the pictures in it (name, bytes), and the bytes and type of the one that
/// stands for its cover.
type Folder<'a> = (&'a str, &'a [(&'a str, &'a [u8])], (&'a [u8], &'a str));

#[test]
fn a_picture_beside_the_music_stands_in_and_a_directory_has_its_own() {
    let library = Library::empty();
    let cover_jpg = picture(FRONT, "red", "image/jpeg").bytes;
    let folder_png = picture(FRONT, "blue", "image/png").bytes;
    let front_jpeg = picture(FRONT, "yellow", "image/jpeg").bytes;
    let embedded = picture(FRONT, "white", "image/png");
    #[rustfmt::skip]
    let folders: &[Folder] = &[
        ("A", &[("cover.jpg", &cover_jpg)], (&cover_jpg, "image/jpeg")),
        ("B", &[("Folder.PNG", &folder_png)], (&folder_png, "image/png")),
        // `cover` before `folder` before `front`, whatever the extension.
        ("C", &[("front.jpeg", &front_jpeg), ("folder.png", &folder_png)], (&folder_png, "image/png")),
        ("D", &[("FRONT.JPEG", &front_jpeg), ("Cover.Png", &folder_png), ("folder.jpg", &cover_jpg)], (&folder_png, "image/png")),
    ];
    let plain = untagged(&MP3);
    for (folder, pictures, _) in folders {
        library.add(&format!("{folder}/01 - plain.mp3"), &plain);
        library.add(
            &format!("{folder}/02 - embedded.flac"),
            &make(&FLAC, TagKind::Vorbis, Some(&SONG), std::slice::from_ref(&embedded)),
        );
        for (name, bytes) in *pictures {
            library.add(&format!("{folder}/{name}"), bytes);
        }
    }
    let server = TestServer::start(library);

    for (folder, _, (bytes, mime)) in folders {
        for target in [cover_url(&format!("{folder}/01 - plain.mp3")), cover_url(folder)] {
            let response = assert_revalidates(&server, &target, &[]);
            assert_eq!(response.header("content-type").as_deref(), Some(*mime), "{target}");
            assert_same_bytes(&response.body, bytes, &target);
        }
        // Embedded beats the picture beside it.
        let embedded_target = cover_url(&format!("{folder}/02 - embedded.flac"));
        let response = server.get(&embedded_target, &[]);
        assert_same_bytes(&response.body, &embedded.bytes, &embedded_target);
        let page = get_json(&server, &browse_url(folder, ""), &[]);
        for track in page["tracks"].as_array().unwrap() {
            let rel = track["path"].as_str().unwrap();
            assert_eq!(track["cover"], cover_url(rel), "{folder}: {track}");
        }
    }
}

#[test]
fn no_picture_anywhere_is_a_404_json_and_a_null_cover() {
    let library = Library::empty();
    library.add("Bare/song.mp3", &untagged(&MP3));
    // Pictures under names that do not stand for a cover, and a cover in a subfolder.
    library.add("Bare/artist.jpg", &picture(FRONT, "red", "image/jpeg").bytes);
    library.add("Bare/cover.gif", b"GIF89a not a cover extension");
    library.add("Bare/.cover.jpg", &picture(FRONT, "red", "image/jpeg").bytes);
    library.add("Bare/Scans/cover.jpg", &picture(FRONT, "red", "image/jpeg").bytes);
    library.add("Bare/notes.txt", b"not audio");
    let server = TestServer::start(library);

    let track = get_json(&server, &track_url("Bare/song.mp3"), &[]);
    assert_eq!(track["cover"], serde_json::Value::Null, "{track}");
    for target in [
        cover_url("Bare/song.mp3"),
        cover_url("Bare"),
        cover_url("Bare/missing.mp3"),
        cover_url("Bare/notes.txt"),
        cover_url("Bare/artist.jpg"),
        cover_url("Missing"),
    ] {
        assert_error(&server, &target, &[], 404);
    }
    let scans = server.get(&cover_url("Bare/Scans"), &[]);
    assert_eq!(scans.status, 200, "a subfolder's own cover: {}", scans.summary());
}
