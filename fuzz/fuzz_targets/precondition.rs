//! Fuzzes `tapedeck_guest::precondition` through [`tapedeck_fuzz::precondition::check`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tapedeck_fuzz::precondition::check(data));
