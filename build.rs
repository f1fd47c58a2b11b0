//! Gives the library `--cfg alexnet_lab_source="<hash of its sources>"`.
//!
//! The notebook kernel (evcxr with `:cache`) keeps compiled crates keyed on the compiler's
//! command line, not on the files. With the hash on the command line, an edit to `src/`,
//! `assets/fonts/` (the font it embeds) or `Cargo.toml` gives the library a new key, so a
//! notebook never runs a stale build of the crate, while an unchanged crate is compiled once
//! for every notebook and kernel. The reports and figures in `assets/` are not read by it.

use std::fs;
use std::path::{Path, PathBuf};

/// FNV-1a, 64 bits: stable across Rust releases (std's hasher is not).
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *hash ^= u64::from(b);
        *hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// Every file under `dir`, sorted, so the hash does not depend on the directory order.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let mut paths = vec![PathBuf::from("Cargo.toml")];
    files(Path::new("src"), &mut paths);
    files(Path::new("assets/fonts"), &mut paths);
    paths.sort();
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for path in &paths {
        fnv1a(&mut hash, path.to_string_lossy().as_bytes());
        fnv1a(&mut hash, &fs::read(path).unwrap_or_default());
    }
    println!("cargo::rerun-if-changed=Cargo.toml");
    println!("cargo::rerun-if-changed=src");
    println!("cargo::rerun-if-changed=assets/fonts");
    println!("cargo::rustc-check-cfg=cfg(alexnet_lab_source, values(any()))");
    println!("cargo::rustc-cfg=alexnet_lab_source=\"{hash:016x}\"");
}
