//! The crate's error type.

/// Everything that can go wrong in the library, each with what, where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name on the command line or in a notebook that is not one of ours.
    #[error("unknown model '{0}': choose one of paper, article, cifar")]
    UnknownModel(String),
    /// A numeric setting outside what makes sense.
    #[error("invalid {what}: {why}")]
    Invalid { what: &'static str, why: String },
    /// The compute device failed (out of memory, a CUDA error).
    #[error("device error: {0}")]
    Device(String),
}

impl From<dfdx::tensor::CpuError> for Error {
    fn from(e: dfdx::tensor::CpuError) -> Self {
        Error::Device(format!(
            "{e:?} (the CPU ran out of memory: try a smaller --batch-size)"
        ))
    }
}

/// `std::result::Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
