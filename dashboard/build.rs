//! Rebuild when the committed app build (`dist/`, compiled into the binary) changes: a new
//! build has new hashed file names, which the embedding macro cannot see by itself.

fn main() {
    println!("cargo:rerun-if-changed=dist");
}
