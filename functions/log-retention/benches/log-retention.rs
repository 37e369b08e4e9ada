//! The benchmark (written next).
fn main() {}
