//! Fuzzes `tapedeck_guest::disposition` through [`tapedeck_fuzz::disposition::check`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapedeck_fuzz::disposition::check(data));
