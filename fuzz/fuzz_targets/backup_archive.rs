//! A backup file as `keepwatch restore` reads it: gzip, then tar, then a JSON manifest and the members it
//! lists. A restore may be handed any file (a foreign archive, a truncated copy, a hostile one), so the reader
//! is bounded and checked; see `keepwatch::fuzzing::backup_archive` for the properties.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    keepwatch::fuzzing::backup_archive(data);
});
