//! The record of a run: one row per epoch, kept in `history.csv`. Plain data: training
//! writes it ([`crate::train`]), the plots draw it ([`crate::plot`]); it imports neither.

use serde::{Deserialize, Serialize};

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Counted from 1.
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    /// Wall-clock seconds of the epoch (training and validation).
    pub seconds: f64,
    /// Training images per second.
    pub images_per_s: f64,
}

/// The epochs of a run, in order. The plotting module draws it.
///
/// Taught in `notebooks/09-training.ipynb`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub epochs: Vec<EpochStats>,
}

/// The header of `history.csv`.
pub const CSV_HEADER: &str = "epoch,train_loss,train_acc,val_loss,val_acc,seconds,images_per_s";

impl History {
    /// The history as CSV, header first.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(CSV_HEADER);
        out.push('\n');
        for e in &self.epochs {
            out += &format!(
                "{},{:.6},{:.6},{:.6},{:.6},{:.3},{:.1}\n",
                e.epoch,
                e.train_loss,
                e.train_acc,
                e.val_loss,
                e.val_acc,
                e.seconds,
                e.images_per_s
            );
        }
        out
    }

    /// The last epoch, if any.
    pub fn last(&self) -> Option<&EpochStats> {
        self.epochs.last()
    }
}

impl std::fmt::Display for EpochStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "epoch {:>3}: train loss {:.4} acc {:5.1}% | val loss {:.4} acc {:5.1}% | {:.1} s, {:.0} img/s",
            self.epoch,
            self.train_loss,
            100.0 * self.train_acc,
            self.val_loss,
            100.0 * self.val_acc,
            self.seconds,
            self.images_per_s
        )
    }
}
