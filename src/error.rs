//! The crate's error type.

/// Everything that can go wrong in the library, each with what, where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name on the command line or in a notebook that is not one of ours.
    #[error(
        "unknown model '{0}': choose one of paper, article, cifar (or the ablation's \
         cifar-tanh, cifar-no-dropout, cifar-lrn, cifar-no-norm, lenet5)"
    )]
    UnknownModel(String),
    /// A numeric setting outside what makes sense.
    #[error("invalid {what}: {why}")]
    Invalid { what: &'static str, why: String },
    /// A data file that is missing, malformed or inconsistent; the message says what to do.
    #[error("{}: {what}", path.display())]
    Data {
        path: std::path::PathBuf,
        what: String,
    },
    /// Reading or writing a file failed. (The operating system's message is part of the
    /// message, not a separate cause, so a report of the error chain says it once.)
    #[error("{}: {cause}", path.display())]
    Io {
        path: std::path::PathBuf,
        cause: std::io::Error,
    },
    /// Fetching a file over the network failed.
    #[error("{0}")]
    Download(String),
    /// Training produced a loss that is not a number; the last good checkpoint is kept.
    #[error(
        "the loss became {loss} at epoch {epoch}, step {step}: training diverged. The last good checkpoint \
         is kept; lower the learning rate (e.g. by 10x) and resume or start again"
    )]
    Diverged {
        epoch: usize,
        step: usize,
        loss: f32,
    },
    /// Drawing a figure failed.
    #[error("plot: {0}")]
    Plot(String),
    /// The compute device failed (out of memory, a CUDA error).
    #[error("device error: {0}")]
    Device(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }
    /// A problem with the data in `path`.
    pub fn data(path: impl Into<std::path::PathBuf>, what: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            what: what.into(),
        }
    }
}

/// Every device's errors (`CpuError`, and `CudaError` with the `cuda` feature), so that `?`
/// works in code generic over the device.
impl<E: DeviceError> From<E> for Error {
    fn from(e: E) -> Self {
        Error::Device(format!("{e:?} ({})", e.advice()))
    }
}

/// `std::result::Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A device error the crate's [`crate::Error`] converts from (`CpuError`, `CudaError`), so
/// `?` works in code generic over the device.
pub trait DeviceError: std::fmt::Debug + std::fmt::Display {
    /// What to try when this error happens.
    fn advice(&self) -> &'static str;
}

impl DeviceError for dfdx::tensor::CpuError {
    fn advice(&self) -> &'static str {
        "the CPU ran out of memory: try a smaller batch size"
    }
}

#[cfg(feature = "cuda")]
impl DeviceError for dfdx::tensor::CudaError {
    fn advice(&self) -> &'static str {
        "a CUDA error: out of GPU memory (try a smaller batch size), or a driver problem"
    }
}
