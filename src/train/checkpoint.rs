//! Checkpoints that survive: after every epoch `model.safetensors`, `optimizer.bin` and
//! `train_state.json` are each written to a temporary file, synced and renamed into place.
//! The state file is written last and records the MD5 of the other two, so a checkpoint
//! torn by a crash, a damaged file or one of another model is refused with a clear error.

use super::config::TrainConfig;
use super::history::History;
use super::optim::Optimizer;
use crate::data::Normalization;
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
    pub classes: Vec<String>,
    pub history: History,
    pub optimizer_steps: u64,
    pub optimizer_lengths: Vec<usize>,
    pub model_md5: String,
    pub optimizer_md5: String,
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
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(tmp))?;
    std::fs::rename(tmp, path).map_err(io(path))
}

fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", md5::compute(bytes))
}

/// Saves a checkpoint of `model` after `state.epochs_done` epochs into `dir`.
pub fn save<M: SaveToSafetensors<f32, dfdx::tensor::Cpu>>(
    dir: &Path,
    model: &M,
    opt: &Optimizer,
    mut state: TrainState,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let model_path = dir.join(MODEL_FILE);
    let model_tmp = tmp_path(&model_path);
    model
        .save_safetensors(&model_tmp)
        .map_err(|e| Error::data(&model_tmp, format!("cannot write: {e:?}")))?;
    let model_bytes = std::fs::read(&model_tmp).map_err(io(&model_tmp))?;
    let opt_bytes: Vec<u8> = opt
        .state
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    state.optimizer_steps = opt.steps;
    state.optimizer_lengths = opt.state.iter().map(Vec::len).collect();
    state.model_md5 = md5_hex(&model_bytes);
    state.optimizer_md5 = md5_hex(&opt_bytes);
    sync_and_rename(&model_tmp, &model_path)?;
    write_atomic(&dir.join(OPTIMIZER_FILE), &opt_bytes)?;
    let json = serde_json::to_vec_pretty(&state).map_err(|e| Error::Device(e.to_string()))?;
    write_atomic(&dir.join(STATE_FILE), &json)
}

/// Reads `dir/train_state.json`.
pub fn read_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join(STATE_FILE);
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::data(&path, format!("cannot read the run's state ({e}): is this a run folder written by `alexnet train`?"))
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::data(&path, format!("damaged ({e}); the run cannot be resumed")))
}

/// Loads the weights of a checkpoint into `model`, after checking it is a `expected` model
/// and that the file is the one the state file recorded.
pub fn load_model<M: LoadFromSafetensors<f32, dfdx::tensor::Cpu>>(
    dir: &Path,
    expected: ModelName,
    model: &mut M,
) -> Result<TrainState> {
    let state = read_state(dir)?;
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
pub fn load_optimizer(dir: &Path, state: &TrainState, opt: &mut Optimizer) -> Result<()> {
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
    opt.state = state
        .optimizer_lengths
        .iter()
        .map(|&n| values.by_ref().take(n).collect())
        .collect();
    opt.steps = state.optimizer_steps;
    Ok(())
}
