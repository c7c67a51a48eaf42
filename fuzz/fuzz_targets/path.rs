//! Fuzzes `tapedeck_guest::path` through [`tapedeck_fuzz::path::check`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapedeck_fuzz::path::check(data));
