//! Replays the fuzz inputs kept in the repo, the named seeds (`fuzz/seeds/<target>/`) and what
//! fuzzing runs found (`fuzz/corpus/<target>/`), through the fuzz targets' own invariant
//! checks, so the normal test suite checks them again without libFuzzer or its
//! instrumentation (`scripts/fuzz.sh` runs the fuzzer itself).

#[path = "../../fuzz/src/disposition.rs"]
mod disposition;
#[path = "../../fuzz/src/input.rs"]
mod input;
#[path = "../../fuzz/src/multipart.rs"]
mod multipart;
#[path = "../../fuzz/src/path.rs"]
mod path;
#[path = "../../fuzz/src/precondition.rs"]
mod precondition;
#[path = "../../fuzz/src/range.rs"]
mod range;
#[path = "../../fuzz/src/wav.rs"]
mod wav;

use std::fs;
use std::path::Path;

/// Runs every file in `fuzz/seeds/<target>/` and `fuzz/corpus/<target>/` through `check`.
fn replay(target: &str, check: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for kind in ["seeds", "corpus"] {
        let dir = fuzz.join(kind).join(target);
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut count = 0;
        for entry in entries {
            let file = entry.expect("a directory entry").path();
            let data = fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            // A failing input names its file, to run alone with `cargo fuzz run <target> FILE`.
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: {} breaks an invariant", file.display());
            count += 1;
        }
        assert!(count > 0, "{target}: nothing in {}", dir.display());
    }
}

#[test]
fn path_corpus_holds_its_invariants() {
    replay("path", path::check);
}

#[test]
fn range_corpus_holds_its_invariants() {
    replay("range", range::check);
}

#[test]
fn precondition_corpus_holds_its_invariants() {
    replay("precondition", precondition::check);
}

#[test]
fn multipart_corpus_holds_its_invariants() {
    replay("multipart", multipart::check);
}

#[test]
fn wav_corpus_holds_its_invariants() {
    replay("wav", wav::check);
}

#[test]
fn disposition_corpus_holds_its_invariants() {
    replay("disposition", disposition::check);
}
