//! `synth._synth`, the native half of the Python package `synth` (python/synth/ is the
//! other): thin calls into [`synth_pipeline`] that take tables through the Arrow C stream
//! interface, release the GIL while they compute, and raise the pipeline's errors as Python
//! exceptions with the CLI's messages.

mod arrow;

use arrow::{ArrowTable, import_frame};
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use synth_core::Checkpoint;
use synth_eval::{EvalOptions, NoProgress};
use synth_pipeline::backend::Backend;
use synth_pipeline::evaluate::{EvalRequest, Frames, evaluate_frames};
use synth_pipeline::{
    Draw, EpochObserver, EpochSummary, ErrorKind, FitOptions, PipelineError, RunConfig, Shard,
    Synthesizer,
};

/// The pipeline's error as the Python exception of its kind, with the same message.
fn raise(error: PipelineError) -> PyErr {
    let message = error.to_string();
    match error.kind() {
        ErrorKind::Input => PyValueError::new_err(message),
        ErrorKind::Io => PyOSError::new_err(message),
        ErrorKind::Interrupted => PyKeyboardInterrupt::new_err(message),
        ErrorKind::Model => PyRuntimeError::new_err(message),
    }
}

/// A backend by its config name (`auto`, `flex`, `ndarray`, `wgpu`, `cuda`).
fn backend(name: Option<&str>) -> PyResult<Option<Backend>> {
    name.map(|name| {
        serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| {
            PyValueError::new_err(format!(
                "backend `{name}`: expected auto, flex, ndarray, wgpu or cuda"
            ))
        })
    })
    .transpose()
}

/// The config shipped for a model kind (`configs/<kind>.toml`), as JSON; with `private`, its
/// differentially private config where it has one (`configs/tvae-dp.toml` for TVAE).
#[pyfunction]
fn shipped_config(kind: &str, private: bool) -> PyResult<String> {
    let shipped = private
        .then(|| RunConfig::shipped_private(kind))
        .flatten()
        .or_else(|| RunConfig::shipped(kind));
    let config = shipped.ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown model kind `{kind}`: expected argn, mixture, ctgan, tvae or gaussiancopula"
        ))
    })?;
    Ok(serde_json::to_string(&config).expect("a config serialises"))
}

/// A run config from its JSON form (checked by `fit` itself); errors name the key.
fn parse_config(json: &str) -> PyResult<RunConfig> {
    serde_json::from_str(json).map_err(|e| PyValueError::new_err(format!("invalid settings: {e}")))
}

/// What a callback or a signal raised during training, to be raised once the epoch in
/// progress is saved.
type Raised = Arc<Mutex<Option<PyErr>>>;

/// Trains the config's model on `table` into `config.train.out_dir` with the GIL released.
/// After every epoch: pending signals are checked (Ctrl-C stops the run at that epoch, with
/// its checkpoint, and raises KeyboardInterrupt) and `progress(epoch, epochs, losses)` is
/// called; an exception it raises stops the run the same way and is raised.
#[pyfunction]
#[pyo3(signature = (table, config_json, resume=false, overwrite=false, progress=None))]
fn fit<'py>(
    py: Python<'py>,
    table: &Bound<'py, PyAny>,
    config_json: &str,
    resume: bool,
    overwrite: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let frame = import_frame(table)?;
    let config = parse_config(config_json)?;
    let stop = Arc::new(AtomicBool::new(false));
    let raised: Raised = Arc::new(Mutex::new(None));
    let observer = {
        let (stop, raised) = (stop.clone(), raised.clone());
        EpochObserver(Arc::new(move |summary: &EpochSummary| {
            Python::attach(|py| {
                let outcome = py.check_signals().and_then(|()| match &progress {
                    Some(callback) => {
                        let losses = PyDict::new(py);
                        for (name, value) in summary.losses {
                            losses.set_item(name, value)?;
                        }
                        callback
                            .call1(py, (summary.epoch, summary.epochs, losses))
                            .map(drop)
                    }
                    None => Ok(()),
                });
                if let Err(error) = outcome {
                    stop.store(true, Ordering::SeqCst);
                    raised.lock().expect("not poisoned").get_or_insert(error);
                }
            })
        }))
    };
    let options = FitOptions {
        resume,
        overwrite,
        progress: false,
        stop: Some(stop),
        on_epoch: Some(observer),
    };
    let trained = py.detach(|| synth_pipeline::fit(frame, &config, &options));
    let pending = raised.lock().expect("not poisoned").take();
    let report = match (trained, pending) {
        // Stopped by the callback or a signal: its exception, now that the epoch is saved.
        (Err(error), Some(exception)) if error.kind() == ErrorKind::Interrupted => {
            return Err(exception);
        }
        (Err(error), _) => return Err(raise(error)),
        // The last epoch ended the run anyway: the exception still reaches the caller.
        (Ok(_), Some(exception)) => return Err(exception),
        (Ok(report), None) => report,
    };
    let out = PyDict::new(py);
    out.set_item("epochs", report.epochs)?;
    out.set_item("steps", report.steps)?;
    out.set_item("checkpoint", report.checkpoint)?;
    out.set_item("converged", report.converged)?;
    out.set_item("epoch_seconds", report.epoch_seconds)?;
    let losses = PyDict::new(py);
    for (name, value) in report.last_losses {
        losses.set_item(name, value)?;
    }
    out.set_item("last_losses", losses)?;
    Ok(out)
}

/// A checkpoint's folder, kind, seed, epochs, backend and synth version (a checkpoint, `ckpt`
/// or run folder), read from its manifest without starting a device.
#[pyfunction]
fn checkpoint_info(py: Python<'_>, path: PathBuf) -> PyResult<Bound<'_, PyDict>> {
    let checkpoint = Checkpoint::find(&path).map_err(|e| raise(e.into()))?;
    let manifest = checkpoint.manifest().map_err(|e| raise(e.into()))?;
    let out = PyDict::new(py);
    out.set_item("dir", checkpoint.dir())?;
    out.set_item("kind", &manifest.kind)?;
    out.set_item("seed", manifest.seed)?;
    out.set_item("epoch", manifest.epoch)?;
    out.set_item("backend", &manifest.backend)?;
    out.set_item("synth_version", &manifest.synth_version)?;
    Ok(out)
}

/// Samples rows (shard `index` of `count` of them) from a checkpoint with the GIL released;
/// returns a table to read through the Arrow stream protocol.
#[pyfunction]
#[pyo3(signature = (path, rows, seed=None, conditions=Vec::new(), batch_size=10_000, shard=None, backend_name=None))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments, one each
fn sample(
    py: Python<'_>,
    path: PathBuf,
    rows: usize,
    seed: Option<u64>,
    conditions: Vec<(String, String)>,
    batch_size: usize,
    shard: Option<(usize, usize)>,
    backend_name: Option<&str>,
) -> PyResult<ArrowTable> {
    let backend = backend(backend_name)?;
    let shard = match shard {
        Some((index, count)) => Shard::new(index, count).map_err(raise)?,
        None => Shard::WHOLE,
    };
    let draw = Draw {
        rows,
        seed,
        conditions,
        batch_size,
        shard,
    };
    let sampled = py
        .detach(|| Synthesizer::open(&path, backend)?.sample(&draw))
        .map_err(raise)?;
    Ok(ArrowTable::new(sampled.table))
}

/// Evaluates synthetic rows against the real ones as `synth-eval` does; returns report.json's
/// text and writes report.json and index.html into `html_dir` when given.
#[pyfunction]
#[pyo3(signature = (real, synthetic, holdout=None, target=None, checkpoint=None, ignore=Vec::new(), html_dir=None, seed=0))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments, one each
fn evaluate(
    py: Python<'_>,
    real: &Bound<'_, PyAny>,
    synthetic: &Bound<'_, PyAny>,
    holdout: Option<&Bound<'_, PyAny>>,
    target: Option<String>,
    checkpoint: Option<PathBuf>,
    ignore: Vec<String>,
    html_dir: Option<PathBuf>,
    seed: u64,
) -> PyResult<String> {
    let real = import_frame(real)?;
    let synthetic = import_frame(synthetic)?;
    let holdout = holdout.map(import_frame).transpose()?;
    let request = EvalRequest {
        real: "real".into(),
        synthetic: "synthetic".into(),
        holdout: holdout.as_ref().map(|_| "holdout".into()),
        target,
        checkpoint,
        ignore,
        output: html_dir.clone().unwrap_or_default(),
        options: EvalOptions {
            seed,
            ..EvalOptions::default()
        },
    };
    let tables = Frames {
        real: &real,
        synthetic: &synthetic,
        holdout: holdout.as_ref(),
    };
    py.detach(|| {
        let evaluated = evaluate_frames(&tables, &request, &NoProgress)?;
        if let Some(dir) = &html_dir {
            evaluated.write(dir)?;
        }
        Ok(serde_json::to_string(&evaluated.report).expect("a report serialises"))
    })
    .map_err(raise)
}

/// Imports a table into Rust and hands it back: the bridge every other call crosses, on its
/// own (for tests of types and nulls, and to time a table's way in and out).
#[pyfunction]
fn roundtrip(table: &Bound<'_, PyAny>) -> PyResult<ArrowTable> {
    Ok(ArrowTable::new(import_frame(table)?))
}

/// The native module.
#[pymodule]
fn _synth(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_class::<ArrowTable>()?;
    module.add_function(wrap_pyfunction!(shipped_config, module)?)?;
    module.add_function(wrap_pyfunction!(fit, module)?)?;
    module.add_function(wrap_pyfunction!(checkpoint_info, module)?)?;
    module.add_function(wrap_pyfunction!(sample, module)?)?;
    module.add_function(wrap_pyfunction!(evaluate, module)?)?;
    module.add_function(wrap_pyfunction!(roundtrip, module)?)?;
    Ok(())
}
