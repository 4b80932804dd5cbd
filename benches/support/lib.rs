//! The benchmarks live in this package's `[[bench]]` targets (`cargo bench -p
//! wecom-sdk-benches`); this library is empty.
