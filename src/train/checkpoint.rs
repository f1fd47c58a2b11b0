//! Checkpoints that survive: after every epoch `model.safetensors` and `optimizer.bin` are
//! written to temporary files and synced; then `train_state.json`, which records their MD5,
//! is renamed into place (the commit); then the two are renamed into place. A process
//! killed at any moment leaves either the previous checkpoint or the new one: reading a
//! checkpoint first finishes a committed one whose renames were cut short. A damaged file
//! or a checkpoint of another model is refused with a clear error.

use super::config::TrainConfig;
use super::optim::Optimizer;
use crate::data::{Normalization, PcaLighting};
use crate::history::History;
use crate::layers::LabDevice;
use crate::model::ModelName;
use crate::{Error, Result};
use dfdx::nn::{LoadFromSafetensors, SaveToSafetensors};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The model's weights and batch-norm statistics.
pub const MODEL_FILE: &str = "model.safetensors";
/// The optimizer's buffers, little-endian f32.
pub const OPTIMIZER_FILE: &str = "optimizer.bin";
/// Everything else resuming needs.
pub const STATE_FILE: &str = "train_state.json";

/// What `train_state.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub model: ModelName,
    pub config: TrainConfig,
    pub epochs_done: usize,
    pub normalization: Normalization,
    /// The principal components of the training set's colours, for a run with
    /// `config.pca_lighting` (computed once, like the normalisation; absent otherwise and in
    /// runs saved before it existed).
    #[serde(default)]
    pub lighting: Option<PcaLighting>,
    pub classes: Vec<String>,
    pub history: History,
    pub optimizer_steps: u64,
    pub optimizer_lengths: Vec<usize>,
    pub model_md5: String,
    pub optimizer_md5: String,
}

impl TrainState {
    /// The state after `epochs_done` epochs of `cfg`, with the training split's
    /// `normalization` and, for a run with `cfg.pca_lighting`, its colour components
    /// `lighting` (`None` otherwise). The file checksums are filled in by [`save`].
    pub fn new(
        cfg: &TrainConfig,
        epochs_done: usize,
        normalization: Normalization,
        lighting: Option<PcaLighting>,
        classes: &[String],
        history: &History,
    ) -> Self {
        TrainState {
            model: cfg.model,
            config: cfg.clone(),
            epochs_done,
            normalization,
            lighting,
            classes: classes.to_vec(),
            history: history.clone(),
            optimizer_steps: 0,
            optimizer_lengths: Vec::new(),
            model_md5: String::new(),
            optimizer_md5: String::new(),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Writes `bytes` to `path` atomically: a temporary file, synced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    sync_and_rename(&tmp, path)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn sync_and_rename(tmp: &Path, path: &Path) -> Result<()> {
    sync(tmp)?;
    std::fs::rename(tmp, path).map_err(io(path))
}

fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", md5::compute(bytes))
}

/// Saves a checkpoint of `model` (on any device) after `state.epochs_done` epochs into `dir`.
///
/// # Errors
/// A file that cannot be written, a device failure.
pub fn save<D: LabDevice, M: SaveToSafetensors<f32, D>>(
    dir: &Path,
    model: &M,
    opt: &Optimizer<D>,
    mut state: TrainState,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let model_path = dir.join(MODEL_FILE);
    let model_tmp = tmp_path(&model_path);
    model
        .save_safetensors(&model_tmp)
        .map_err(|e| Error::data(&model_tmp, format!("cannot write: {e:?}")))?;
    let model_bytes = std::fs::read(&model_tmp).map_err(io(&model_tmp))?;
    let buffers = opt.state_to_host()?;
    let opt_bytes: Vec<u8> = buffers
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    state.optimizer_steps = opt.steps;
    state.optimizer_lengths = buffers.iter().map(Vec::len).collect();
    state.model_md5 = md5_hex(&model_bytes);
    state.optimizer_md5 = md5_hex(&opt_bytes);
    let opt_path = dir.join(OPTIMIZER_FILE);
    let opt_tmp = tmp_path(&opt_path);
    std::fs::write(&opt_tmp, &opt_bytes).map_err(io(&opt_tmp))?;
    sync(&model_tmp)?;
    sync(&opt_tmp)?;
    let json = serde_json::to_vec_pretty(&state).map_err(|e| Error::Device(e.to_string()))?;
    write_atomic(&dir.join(STATE_FILE), &json)?; // the commit
    std::fs::rename(&model_tmp, &model_path).map_err(io(&model_path))?;
    std::fs::rename(&opt_tmp, &opt_path).map_err(io(&opt_path))
}

fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

/// Finishes a committed checkpoint whose renames a crash cut short: where `name` does not
/// match the state's checksum but its temporary file does, the temporary file moves in.
fn roll_forward(dir: &Path, name: &str, md5: &str) -> Result<()> {
    let path = dir.join(name);
    let tmp = tmp_path(&path);
    let matches = |p: &Path| std::fs::read(p).is_ok_and(|b| md5_hex(&b) == md5);
    if !matches(&path) && matches(&tmp) {
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
    }
    Ok(())
}

/// Reads `dir/train_state.json`.
pub fn read_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join(STATE_FILE);
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::data(&path, format!("cannot read the run's state ({e}): is this a run folder written by a training run?"))
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::data(&path, format!("damaged ({e}); the run cannot be resumed")))
}

/// Loads the weights of a checkpoint into `model`, after checking it is a `expected` model
/// and that the file is the one the state file recorded.
///
/// # Errors
/// No state file, a checkpoint of another model, a damaged or mismatched weights file.
pub fn load_model<D: LabDevice, M: LoadFromSafetensors<f32, D>>(
    dir: &Path,
    expected: ModelName,
    model: &mut M,
) -> Result<TrainState> {
    let state = read_state(dir)?;
    roll_forward(dir, MODEL_FILE, &state.model_md5)?;
    roll_forward(dir, OPTIMIZER_FILE, &state.optimizer_md5)?;
    if state.model != expected {
        let what = format!(
            "is a checkpoint of the `{}` model, not `{expected}`",
            state.model
        );
        return Err(Error::data(dir.join(STATE_FILE), what));
    }
    let path = dir.join(MODEL_FILE);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    if md5_hex(&bytes) != state.model_md5 {
        return Err(Error::data(
            &path,
            "does not match the checkpoint's record (damaged or from another run)",
        ));
    }
    model
        .load_safetensors(&path)
        .map_err(|e| Error::data(&path, format!("cannot load ({e:?})")))?;
    Ok(state)
}

/// Restores the optimizer saved beside the model.
///
/// # Errors
/// A missing, damaged or mismatched optimizer file.
pub fn load_optimizer<D: LabDevice>(
    dir: &Path,
    state: &TrainState,
    opt: &mut Optimizer<D>,
) -> Result<()> {
    roll_forward(dir, OPTIMIZER_FILE, &state.optimizer_md5)?;
    let path = dir.join(OPTIMIZER_FILE);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    let total: usize = state.optimizer_lengths.iter().sum();
    if md5_hex(&bytes) != state.optimizer_md5 || bytes.len() != 4 * total {
        return Err(Error::data(
            &path,
            "does not match the checkpoint's record (damaged or from another run)",
        ));
    }
    let mut values = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let buffers = state
        .optimizer_lengths
        .iter()
        .map(|&n| values.by_ref().take(n).collect())
        .collect();
    opt.set_state(buffers, state.optimizer_steps);
    Ok(())
}

/// Resuming is read from the run folder, so it lives with the checkpoint, not the settings.
impl TrainConfig {
    /// The settings a resumed run continues with: the ones saved in the run folder `dir`
    /// (a run keeps what it started with), with `self`'s number of epochs, which may grow.
    /// `None` if `dir` holds no finished epoch: such a run starts from the beginning.
    ///
    /// # Errors
    /// A damaged state file, or a run of another model than `self.model`.
    pub fn resumed(&self, dir: &std::path::Path) -> Result<Option<TrainConfig>> {
        if !dir.join(STATE_FILE).exists() {
            return Ok(None);
        }
        let saved = read_state(dir)?.config;
        if saved.model != self.model {
            return Err(Error::data(
                dir,
                format!(
                    "the run in it trains `{}`, not `{}`",
                    saved.model, self.model
                ),
            ));
        }
        Ok(Some(TrainConfig {
            num_epochs: self.num_epochs,
            ..saved
        }))
    }
}
