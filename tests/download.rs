//! The download path against archives served from 127.0.0.1: good, already there,
//! truncated, corrupted, absent (404), no server, and an archive put in place by hand.
#![cfg(feature = "download")]

use alexnet_lab::data::download::{download_from, Fetched, ARCHIVE};
use alexnet_lab::data::{synthetic, Cifar10, FOLDER};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A small CIFAR-10-layout archive (synthetic images) as `cifar-10-binary.tar.gz` bytes.
fn archive_bytes() -> Vec<u8> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let staging = tmp_dir(&format!("staging-{}", N.fetch_add(1, Ordering::SeqCst)));
    synthetic::generate(4, 1, 3).write(&staging).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    tar.append_dir_all(FOLDER, staging.join(FOLDER)).unwrap();
    let bytes = tar.into_inner().unwrap().finish().unwrap();
    std::fs::remove_dir_all(staging).unwrap();
    bytes
}

fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", md5::compute(bytes))
}

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alexnet-lab-dl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

enum Serve {
    Whole,
    Truncated,
    NotFound,
}

/// Serves `body` on 127.0.0.1 for up to `max` connections; returns the URL and a counter of
/// requests answered.
fn serve(body: Vec<u8>, how: Serve, max: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/{ARCHIVE}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let mut stream = stream.unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let (status, sent) = match how {
                Serve::Whole => ("200 OK", &body[..]),
                Serve::Truncated => ("200 OK", &body[..body.len() / 2]),
                Serve::NotFound => ("404 Not Found", &b""[..]),
            };
            let length = if matches!(how, Serve::NotFound) {
                0
            } else {
                body.len()
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(sent));
        }
    });
    (url, hits)
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_good_archive_is_verified_unpacked_and_not_fetched_twice() {
    let bytes = archive_bytes();
    let md5 = md5_hex(&bytes);
    let (url, hits) = serve(bytes.clone(), Serve::Whole, 2);
    let dir = tmp_dir("good");
    let mut last = (0, None);
    let fetched = download_from(&url, &md5, &dir, &mut |done, total| last = (done, total)).unwrap();
    assert_eq!(fetched, Fetched::Unpacked(dir.join(FOLDER)));
    assert_eq!(
        last,
        (bytes.len() as u64, Some(bytes.len() as u64)),
        "progress reached the end"
    );
    assert_eq!(
        Cifar10::load(&dir).unwrap().train,
        synthetic::generate(4, 1, 3).train
    );
    let mut names = leftovers(&dir);
    names.sort();
    assert_eq!(names, [FOLDER, ARCHIVE], "no temporary files left");
    // Second call: valid data already there, so the server is not asked again.
    let again = download_from(&url, &md5, &dir, &mut |_, _| {}).unwrap();
    assert_eq!(again, Fetched::AlreadyThere(dir.join(FOLDER)));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_truncated_download_leaves_nothing_behind() {
    let bytes = archive_bytes();
    let (url, _) = serve(bytes.clone(), Serve::Truncated, 1);
    let dir = tmp_dir("truncated");
    let err = download_from(&url, &md5_hex(&bytes), &dir, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("run it again"), "{err}");
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_corrupted_download_is_deleted_and_reported() {
    let bytes = archive_bytes();
    let md5 = md5_hex(&bytes);
    let mut corrupted = bytes.clone();
    let mid = corrupted.len() / 2;
    corrupted[mid] ^= 0xff;
    let (url, _) = serve(corrupted, Serve::Whole, 1);
    let dir = tmp_dir("corrupted");
    let err = download_from(&url, &md5, &dir, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("checksum mismatch") && err.contains("deleted"),
        "{err}"
    );
    assert!(leftovers(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_absent_archive_or_no_server_says_how_to_work_offline() {
    let (url, _) = serve(Vec::new(), Serve::NotFound, 1);
    let dir = tmp_dir("absent");
    let err = download_from(&url, "0", &dir, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("HTTP 404") && err.contains("by hand") && err.contains("--dataset synthetic"),
        "{err}"
    );
    // A port nobody listens on: bind one, then close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = download_from(
        &format!("http://127.0.0.1:{port}/x"),
        "0",
        &dir,
        &mut |_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("by hand") && err.contains("--dataset synthetic"),
        "{err}"
    );
    assert!(leftovers(&dir).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_archive_put_in_place_by_hand_is_verified_and_used_offline() {
    let bytes = archive_bytes();
    let dir = tmp_dir("by-hand");
    std::fs::write(dir.join(ARCHIVE), &bytes).unwrap();
    let unreachable = "http://127.0.0.1:9/never-asked";
    let fetched = download_from(unreachable, &md5_hex(&bytes), &dir, &mut |_, _| {}).unwrap();
    assert_eq!(fetched, Fetched::Unpacked(dir.join(FOLDER)));
    // A damaged hand-placed archive is reported and kept (it is the user's file).
    let dir2 = tmp_dir("by-hand-bad");
    std::fs::write(dir2.join(ARCHIVE), &bytes[..100]).unwrap();
    let err = download_from(unreachable, &md5_hex(&bytes), &dir2, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains(ARCHIVE) && err.contains("damaged"), "{err}");
    assert!(dir2.join(ARCHIVE).exists());
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(dir2).unwrap();
}
