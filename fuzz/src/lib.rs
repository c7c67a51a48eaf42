//! The invariants the fuzz targets check, one module per parser of `tapedeck-guest`.
//!
//! Each `check(data)` reads one input in its target's text format (see the module's doc),
//! runs the parser and panics if an invariant breaks; an input it cannot read is skipped.
//! `guest/tests/fuzz_corpus.rs` includes these same files and replays `fuzz/corpus/` through
//! them in the normal test suite, so the checks use only `tapedeck-guest`, `percent-encoding`
//! and `std`, and name their helpers by `crate::input`.

pub mod disposition;
pub mod input;
pub mod multipart;
pub mod path;
pub mod precondition;
pub mod range;
pub mod wav;
