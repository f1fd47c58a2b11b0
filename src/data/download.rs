//! Fetching the official CIFAR-10 archive: into a temporary file, verified (MD5) before it is
//! unpacked, unpacked into a temporary folder, checked by the loader, and only then moved
//! into place. An interrupted or corrupted download never leaves a half data set that looks
//! whole; a set already there and valid is not fetched again.

use super::cifar10::{locate, Cifar10, FOLDER};
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
    /// The archive was verified and unpacked into this folder.
    Unpacked(PathBuf),
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
        if Cifar10::load(dir).is_ok() {
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
        fetch(url, md5_hex, dir, &archive, progress)?;
    }
    unpack(&archive, dir)
}

fn offline(url: &str, dir: &Path, why: impl std::fmt::Display) -> Error {
    Error::Download(format!(
        "could not download {url}: {why}. Without network, put {ARCHIVE} into {} by hand \
         (from https://www.cs.toronto.edu/~kriz/cifar.html) and run this again, or work offline \
         with the synthetic set (`alexnet data synth`, `--dataset synthetic`)",
        dir.display()
    ))
}

fn fetch(
    url: &str,
    md5_hex: &str,
    dir: &Path,
    archive: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<()> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(60))
        .build();
    let response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Status(code, _) => {
            offline(url, dir, format_args!("the server answered HTTP {code}"))
        }
        ureq::Error::Transport(t) => match t.message() {
            Some(m) => offline(url, dir, format_args!("{}: {m}", t.kind())),
            None => offline(url, dir, t.kind()),
        },
    })?;
    let total = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    let part = dir.join(format!("{ARCHIVE}.part"));
    let result = stream_to(response.into_reader(), &part, total, progress).and_then(|(done, digest)| {
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
        std::fs::rename(&part, archive).map_err(|e| Error::io(archive, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
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
        Cifar10::load(&tmp)?;
        let src =
            locate(&tmp).ok_or_else(|| Error::data(archive, "holds no CIFAR-10 batch files"))?;
        let dst = dir.join(FOLDER);
        if dst.exists() {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let aside = dir.join(format!("{FOLDER}.invalid-{stamp}"));
            std::fs::rename(&dst, &aside).map_err(|e| Error::io(&dst, e))?;
        }
        std::fs::rename(&src, &dst).map_err(|e| Error::io(&dst, e))?;
        Ok(Fetched::Unpacked(dst))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}
