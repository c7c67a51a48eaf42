//! Fuzzes `tapedeck_guest::multipart` through [`tapedeck_fuzz::multipart::check`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapedeck_fuzz::multipart::check(data));
