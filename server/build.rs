//! Rebuild when the client in `dist/` changes: release builds embed it, and rust-embed
//! alone does not make cargo watch the folder (new hashed file names would be missed).

fn main() {
    println!("cargo:rerun-if-changed=../dist");
    println!("cargo:rerun-if-changed=build.rs");
}
