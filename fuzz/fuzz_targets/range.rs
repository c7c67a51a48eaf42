//! Fuzzes `tapedeck_guest::range` through [`tapedeck_fuzz::range::check`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapedeck_fuzz::range::check(data));
