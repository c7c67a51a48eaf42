//! Decoder processes confined, proven on the real server with the embedded guest beside a
//! well-behaved tenant: a transcode's `ffmpeg` runs with no environment, `/` as its working
//! directory, resource limits, a network namespace of its own and, when configured, a uid of
//! its own, and ends with its stream; a request for many ranges of a WMA decodes it once; and
//! a `.wma` or `.wv` that is really a playlist or manifest naming a file outside the music
//! dir is refused before any audio, its target never read.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::bystander::{HOSTILE_HOST, HOSTILE_TENANT, TwoTenants};
use crate::support::byteranges::assert_ranges;
use crate::support::connection::OpenStream;
use crate::support::http;
use crate::support::library::SECRET_MARKER;
use crate::support::media::{TRANSCODE_FORMATS, transcode_media};
use crate::support::wav::{Layout, wav_file};
use crate::support::{Library, TestServer, assert_same_bytes, run};

/// The ten-minute WMA whose decoder the tests catch running: its output fills the pipe long
/// before the end, and the decoder then waits for the client to read.
const LONG_WMA: &str = "long.wma";
/// A three-second WMA, decoded whole.
const SHORT_WMA: &str = "short.wma";
/// How long a decoder may take to appear, or to go once its stream is dropped.
const DECODER_WAIT: Duration = Duration::from_secs(5);
/// The resource limits every decoder runs under, as `/proc/PID/limits` names them: soft and
/// hard limit alike.
const LIMITS: &[(&str, &str)] = &[
    ("Max cpu time", "900"),
    ("Max file size", "0"),
    ("Max core file size", "0"),
    ("Max address space", "1073741824"),
    ("Max open files", "32"),
];
/// Who decoders run as in the uid test: `nobody` on Debian.
const NOBODY: &str = "65534";

/// A library with the long and the short WMA.
fn wma_library() -> Library {
    let library = Library::empty();
    library.add(LONG_WMA, &transcode_media(LONG_WMA));
    library.add(SHORT_WMA, &TRANSCODE_FORMATS[1].media("wma"));
    library
}

/// Opens the transcode of the long WMA from the hostile tenant and reads its first bytes, so
/// that its decoder is running.
#[track_caller]
fn open_long_transcode(tenants: &TwoTenants) -> OpenStream {
    let target = format!("/stream/wav/{LONG_WMA}");
    let mut stream = OpenStream::open_to(tenants.server.addr(), HOSTILE_HOST, &target, &[]);
    assert_eq!(stream.head.status, 200, "{target}: {}", stream.head.summary());
    let _ = stream.read(64 * 1024);
    stream
}

/// A decoder process of the server, read through `/proc`.
struct Decoder {
    pid: u32,
}

impl Decoder {
    /// The server's running `ffmpeg`, once it has one (the probe's `ffprobe` has exited).
    #[track_caller]
    fn find(server: &TestServer) -> Decoder {
        let deadline = Instant::now() + DECODER_WAIT;
        loop {
            let children = server.children();
            if let Some((pid, ..)) = children.iter().find(|(_, name, _)| name == "ffmpeg") {
                return Decoder { pid: *pid };
            }
            assert!(
                Instant::now() < deadline,
                "no ffmpeg among the server's children: {children:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn proc(&self, entry: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/{entry}", self.pid))
    }

    #[track_caller]
    fn read(&self, entry: &str) -> String {
        let path = self.proc(entry);
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[track_caller]
    fn link(&self, entry: &str) -> PathBuf {
        let path = self.proc(entry);
        fs::read_link(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The soft and hard limit of `name` in `/proc/PID/limits`.
    #[track_caller]
    fn limit(&self, name: &str) -> (String, String) {
        let limits = self.read("limits");
        let values: Vec<&str> = limits
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no `{name}` in the decoder's limits:\n{limits}"))
            .split_whitespace()
            .collect();
        match values.as_slice() {
            [soft, hard, ..] => ((*soft).to_owned(), (*hard).to_owned()),
            _ => panic!("bad `{name}` line in the decoder's limits:\n{limits}"),
        }
    }

    /// The values of the `field:` line of `/proc/PID/status` (`Uid:` has four).
    #[track_caller]
    fn status(&self, field: &str) -> Vec<String> {
        let status = self.read("status");
        let line = status.lines().find_map(|line| line.strip_prefix(field));
        let line = line.unwrap_or_else(|| panic!("no `{field}` in the decoder's status"));
        line.split_whitespace().map(str::to_owned).collect()
    }

    /// Waits until the process is gone, killed and reaped.
    #[track_caller]
    fn assert_gone(&self, what: &str) {
        let deadline = Instant::now() + DECODER_WAIT;
        while self.proc("").exists() {
            let state = fs::read_to_string(self.proc("status")).unwrap_or_default();
            let state = state.lines().find(|l| l.starts_with("State:")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "{what}: decoder {} still there ({state})",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn wma_decoder_runs_confined_and_ends_with_its_stream() {
    let tenants = TwoTenants::start(wma_library(), "", |tenant| tenant);
    let music_dir = tenants.hostile.music_dir().to_string_lossy().into_owned();
    tenants.good_tenant_during("streams a WMA transcode", || {
        let stream = open_long_transcode(&tenants);
        let decoder = Decoder::find(&tenants.server);

        // Nothing of the server's environment but PATH, which chooses the decoder programs
        // (every test server also gets `TAPEDECK_TEST_CANARY`, to be found if it leaks).
        let environ = decoder.read("environ");
        let inherited: Vec<&str> = environ
            .split('\0')
            .filter(|var| !var.is_empty() && !var.starts_with("PATH="))
            .collect();
        assert!(inherited.is_empty(), "the decoder inherited {inherited:?}");
        assert_eq!(decoder.link("cwd"), Path::new("/"), "the decoder's working directory");
        for (name, want) in LIMITS {
            let (soft, hard) = decoder.limit(name);
            assert_eq!((soft.as_str(), hard.as_str()), (*want, *want), "the decoder's {name}");
        }
        // It reads the file the guest opened from its stdin, and names no path of ours.
        let stdin = decoder.link("fd/0");
        assert_eq!(stdin, tenants.hostile.path(LONG_WMA), "the decoder's stdin");
        let cmdline = decoder.read("cmdline").replace('\0', " ");
        assert!(
            !cmdline.contains(&music_dir),
            "the decoder's command line names a path: {cmdline}"
        );

        let server_net = format!("/proc/{}/ns/net", tenants.server.pid());
        let server_net = fs::read_link(&server_net).expect("the server's network namespace");
        let decoder_net = decoder.link("ns/net");
        let refused =
            tenants.server.log_lines().iter().any(|l| l.contains("no network namespaces"));
        assert_ne!(
            decoder_net, server_net,
            "the decoder shares the server's network namespace. The server gives each decoder \
             an empty one where the kernel lets it (as root, or with unprivileged user \
             namespaces), and logs `no network namespaces here` where it does not (logged \
             here: {refused}); these tests run as root, here and in CI, where it can"
        );

        drop(stream);
        decoder.assert_gone("once its client left");
    });
    tenants.server.assert_settles(usize::MAX, DECODER_WAIT, "after the transcode");
}

#[test]
fn decoder_runs_as_the_configured_uid_and_decodes_the_same_audio() {
    let me = fs::metadata("/proc/self").expect("/proc/self").uid();
    assert_eq!(me, 0, "starting decoders as another uid takes root; CI runs the tests as root");
    let short = format!("/stream/wav/{SHORT_WMA}");
    let default = TwoTenants::start(wma_library(), "", |tenant| tenant);
    let expected = default.get(&short, &[]);
    assert_eq!(expected.status, 200, "{short} with decoders as root: {}", expected.summary());
    drop(default);

    // Only root may enter the library: the decoder can read its file only through the
    // descriptor the server hands it as stdin.
    let library = wma_library();
    fs::set_permissions(library.root(), fs::Permissions::from_mode(0o700)).expect("chmod");
    let top = format!("decoder_uid = {NOBODY}\ndecoder_gid = {NOBODY}\n");
    let tenants = TwoTenants::start(library, &top, |tenant| tenant);
    tenants.good_tenant_during("streams as another uid", || {
        let response = tenants.get(&short, &[]);
        let what = format!("{short} with decoders as uid {NOBODY}");
        assert_eq!(response.status, 200, "{what}: {}", response.summary());
        assert_same_bytes(&response.body, &expected.body, &what);

        let stream = open_long_transcode(&tenants);
        let decoder = Decoder::find(&tenants.server);
        assert_eq!(decoder.status("Uid:"), [NOBODY; 4], "the decoder's uids");
        assert_eq!(decoder.status("Gid:"), [NOBODY; 4], "the decoder's gids");
        assert_eq!(decoder.status("Groups:"), [""; 0], "the decoder's supplementary groups");
        drop(stream);
        decoder.assert_gone("once its client left");
    });
}

#[test]
fn many_ranges_of_a_wma_cost_one_probe_and_one_decoder() {
    let tenants = TwoTenants::start(wma_library(), "", |tenant| tenant);
    let target = format!("/stream/wav/{SHORT_WMA}");
    let full = tenants.get(&target, &[]);
    assert_eq!(full.status, 200, "{target}: {}", full.summary());
    // Twenty ranges spread over the file, each far from the next (nearby ones are merged).
    let step = full.body.len() as u64 / 20;
    let want: Vec<(u64, u64)> = (0..20).map(|i| (i * step + 7, i * step + 7 + 999)).collect();
    let header: Vec<String> = want.iter().map(|(a, b)| format!("{a}-{b}")).collect();
    let header = format!("bytes={}", header.join(","));

    let starts = || {
        let labels = [("tenant", HOSTILE_TENANT)];
        tenants.server.metrics().value("tapedeck_decoder_starts_total", &labels)
    };
    tenants.good_tenant_during("asks for 20 ranges of a WMA", || {
        let before = starts();
        let response = tenants.get(&target, &[("Range", &header)]);
        assert_ranges(&response, &full.body, &want, "audio/wav", "20 ranges of a WMA");
        // One ffprobe, then one ffmpeg carried from each range to the next.
        assert_eq!(starts() - before, 2.0, "decoder processes started for 20 ranges");
    });
}

/// A WAV outside the music dir whose every sample spells [`SECRET_MARKER`]: decoded, it is
/// the marker's bytes again. Made as FLAC (which HLS opens) and as `.mp4` (which DASH opens),
/// both holding the same FLAC stream. Returns their paths.
fn add_outside_audio(library: &Library) -> [PathBuf; 2] {
    let outside = library.root().join("outside");
    let pcm = SECRET_MARKER.repeat(2000).into_bytes();
    let wav = outside.join("secret-audio.wav");
    fs::write(&wav, wav_file(Layout { rate: 22_050, channels: 1, bits: 16 }, &pcm)).unwrap();
    let flac = outside.join("secret-audio.flac");
    run(Command::new("ffmpeg").args(["-v", "error", "-y", "-i"]).arg(&wav).arg(&flac));
    let mp4 = outside.join("secret-audio.mp4");
    fs::copy(&flac, &mp4).expect("copy outside audio");
    [flac, mp4]
}

/// Whether `bytes` hold the marker of the outside files.
fn has_secret(bytes: &[u8]) -> bool {
    bytes.windows(SECRET_MARKER.len()).any(|w| w == SECRET_MARKER.as_bytes())
}

#[test]
fn playlists_and_manifests_named_wma_or_wv_are_422_before_any_audio() {
    let library = Library::empty();
    let [flac, mp4] = add_outside_audio(&library);
    let wav = flac.with_extension("wav");
    let hls = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n{}\n#EXT-X-ENDLIST\n",
        flac.display()
    );
    let bare_hls = format!("#EXTM3U\n#EXTINF:3,\n{}\n", wav.display());
    let dash = format!(
        "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" \
         mediaPresentationDuration=\"PT3S\" minBufferTime=\"PT1S\" \
         profiles=\"urn:mpeg:dash:profile:isoff-on-demand:2011\"><Period>\
         <AdaptationSet mimeType=\"audio/mp4\"><Representation id=\"1\" bandwidth=\"352800\">\
         <BaseURL>file:{}</BaseURL></Representation></AdaptationSet></Period></MPD>\n",
        mp4.display()
    );
    let manifests = [("hls", &hls), ("bare-hls", &bare_hls), ("dash", &dash)];
    let mut targets = Vec::new();
    for (name, text) in manifests {
        for ext in ["wma", "wv"] {
            let rel = format!("{name}.{ext}");
            library.add(&rel, text.as_bytes());
            targets.push(format!("/stream/wav/{rel}"));
        }
    }
    // Control: ffmpeg left to guess the container follows these to the outside file (as
    // tapedeck's decoders did before the container was forced). Else the test proves nothing.
    for name in ["hls", "dash"] {
        let decoded = run(Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(library.path(&format!("{name}.wma")))
            .args(["-f", "s16le", "-"]));
        assert!(has_secret(&decoded), "ffmpeg no longer follows {name}: the test proves nothing");
    }

    let tenants = TwoTenants::start(library, "", |tenant| tenant);
    tenants.good_tenant_during("serves playlists and manifests as audio", || {
        for target in &targets {
            for range in [None, Some("bytes=0-"), Some("bytes=100000-")] {
                let headers: Vec<(&str, &str)> = range.map(|r| ("Range", r)).into_iter().collect();
                let what = format!("{target} ({range:?})");
                let response = tenants.get(target, &headers);
                assert_eq!(response.status, 422, "{what}: {}", response.summary());
                response.expect_json_error();
                assert!(!has_secret(&response.body), "{what}: the body holds the outside file");
                let addr = tenants.server.addr();
                let head = http::request_to(addr, HOSTILE_HOST, "HEAD", target, &headers, None);
                assert_eq!(head.status, 422, "HEAD {what}: {}", head.summary());
                assert!(head.body.is_empty() && head.trailing.is_empty(), "HEAD {what}: a body");
            }
        }
    });
}
