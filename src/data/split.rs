//! Train / validation / test, as the article splits CIFAR-10: the validation set is the
//! **last** `val_size` training images (5,000 by default), so training keeps the first 45,000.

use super::dataset::{Dataset, Images, Source};
use crate::{Error, Result};

/// The article's validation size.
pub const DEFAULT_VAL_SIZE: usize = 5_000;

/// The validation size for a training set of `n` images: the article's 5,000, at most a
/// tenth of the set.
pub fn default_val_size(n: usize) -> usize {
    DEFAULT_VAL_SIZE.min(n / 10)
}

/// The three sets a training run uses.
#[derive(Clone, Debug)]
pub struct Splits {
    pub train: Images,
    pub val: Images,
    pub test: Images,
    pub classes: Vec<String>,
    pub source: Source,
}

impl Dataset {
    /// Splits off the last `val_size` training images as the validation set.
    ///
    /// # Errors
    /// A `val_size` that leaves no training images.
    ///
    /// ```
    /// use alexnet_lab::data::synthetic;
    /// let data = synthetic::generate(20, 4, 7); // 200 training images
    /// let splits = data.split(50)?;
    /// assert_eq!((splits.train.len(), splits.val.len(), splits.test.len()), (150, 50, 40));
    /// # Ok::<(), alexnet_lab::Error>(())
    /// ```
    pub fn split(self, val_size: usize) -> Result<Splits> {
        let n = self.train.len();
        if val_size >= n {
            return Err(Error::Invalid {
                what: "validation size",
                why: format!(
                    "{val_size} leaves no training images (there are {n}); choose fewer than {n}"
                ),
            });
        }
        let cut = n - val_size;
        Ok(Splits {
            train: self.train.slice(0..cut),
            val: self.train.slice(cut..n),
            test: self.test,
            classes: self.classes,
            source: self.source,
        })
    }
}
