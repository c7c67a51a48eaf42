//! No file makes the parsers panic: the demo library's files, mutated at random (bytes
//! flipped, lengths and counts set to extremes, cut short), are probed and their covers
//! read. A panic in the guest would trap, failing a whole page for one bad file.
//!
//! `TAPEDECK_FUZZ_DIR=DIR TAPEDECK_FUZZ_ROUNDS=N cargo test -p tapedeck-library --release
//! -- --ignored` runs a longer campaign over another directory.

use std::path::{Path, PathBuf};

use super::picture::Body;
use super::source::Source;
use super::{front_cover, id3v2, ogg, probe};

/// A xorshift generator: reproducible runs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `file` with a few random mutations.
fn mutate(file: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = file.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len());
        match rng.below(6) {
            0 => {
                if let Some(byte) = bytes.get_mut(at) {
                    *byte ^= 1 << rng.below(8);
                }
            }
            // Lengths and counts at their extremes, in either byte order.
            1 | 2 => {
                let value: [u8; 4] = match rng.below(4) {
                    0 => [0xff; 4],
                    1 => [0x7f, 0xff, 0xff, 0xff],
                    2 => [0; 4],
                    _ => (rng.next() as u32).to_le_bytes(),
                };
                for (i, b) in value.into_iter().enumerate() {
                    if let Some(byte) = bytes.get_mut(at + i) {
                        *byte = b;
                    }
                }
            }
            3 => bytes.truncate(at),
            4 => {
                let end = (at + rng.below(64)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                let to = rng.below(bytes.len());
                bytes.splice(to..to, copy);
            }
            _ => {
                let noise: Vec<u8> = (0..rng.below(32)).map(|_| rng.next() as u8).collect();
                bytes.splice(at..at, noise);
            }
        }
    }
    bytes
}

/// Probes `bytes` and reads their cover, as the endpoints do.
fn exercise(bytes: Vec<u8>) {
    let len = bytes.len() as u64;
    let mut source = Source::new(bytes, len);
    let probed = probe(&mut source);
    if let Ok(properties) = probed.properties {
        _ = properties.bitrate();
    }
    match front_cover(&mut source).map(|picture| picture.body) {
        Some(Body::OggComment { offset, len }) => _ = ogg::picture_bytes(&mut source, offset, len),
        Some(Body::Unsynchronised { offset, len, skip, image_len }) => {
            _ = id3v2::unsynchronised_image(&mut source, offset, len, skip, image_len);
        }
        _ => {}
    }
}

fn audio_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            audio_files(&path, found);
        } else if kind.is_file()
            && tapedeck_guest::mime::audio_type(&path.to_string_lossy()).is_some()
        {
            found.push(path);
        }
    }
}

fn campaign(dir: &Path, rounds: usize) {
    let mut files = Vec::new();
    audio_files(dir, &mut files);
    assert!(!files.is_empty(), "no audio files in `{}`", dir.display());
    for (n, path) in files.iter().enumerate() {
        let original = std::fs::read(path).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
        exercise(original.clone());
        for round in 0..rounds {
            let mutated = mutate(&original, &mut rng);
            let kept = mutated.clone();
            let result = std::panic::catch_unwind(|| exercise(mutated));
            if result.is_err() {
                let out = std::env::temp_dir().join("tapedeck-fuzz-crash.bin");
                std::fs::write(&out, kept).unwrap();
                panic!(
                    "{} round {round} panicked; the input is in `{}`",
                    path.display(),
                    out.display()
                );
            }
        }
    }
}

#[test]
fn mutated_demo_files_never_panic() {
    campaign(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo"), 1000);
}

#[test]
#[ignore = "a long campaign over TAPEDECK_FUZZ_DIR"]
fn mutated_files_never_panic() {
    let dir = std::env::var("TAPEDECK_FUZZ_DIR")
        .expect("TAPEDECK_FUZZ_DIR names a directory of audio files");
    let rounds =
        std::env::var("TAPEDECK_FUZZ_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
    campaign(Path::new(&dir), rounds);
}
