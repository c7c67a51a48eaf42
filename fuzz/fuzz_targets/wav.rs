//! Fuzzes `tapedeck_guest::wav` through [`tapedeck_fuzz::wav::check`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapedeck_fuzz::wav::check(data));
