//! synth as a library: the run config (TOML) and its validation, the backend choice, run
//! folders, and the calls the command-line tools and the Python package are thin layers over:
//! training from a config's files ([`run_training`]) or from a polars DataFrame ([`fit`]),
//! sampling to a file ([`run_sampling`]) or to a DataFrame ([`Synthesizer`]), evaluation
//! ([`evaluate::run_evaluation`], [`evaluate::evaluate_frames`]) and augmentation
//! ([`augment::run_augmentation`]). Errors are one typed [`PipelineError`].
//!
//! ```no_run
//! use synth_pipeline::{Draw, FitOptions, RunConfig, Synthesizer, fit};
//! # fn main() -> synth_pipeline::Result<()> {
//! let table = synth_data::read_table("assets/adult.csv".as_ref())?;
//! let config = RunConfig::parse(
//!     "[data]\npath = \"adult\"\n[train]\nout_dir = \"runs/adult\"\n[model]\nkind = \"mixture\"\n",
//! )?;
//! fit(table, &config, &FitOptions::default())?;
//! let rows = Synthesizer::open("runs/adult".as_ref(), None)?.sample(&Draw::rows(1000))?;
//! println!("{}", rows.table);
//! # Ok(())
//! # }
//! ```

pub mod augment;
pub mod backend;
pub mod config;
mod error;
pub mod evaluate;
mod run_folder;
mod sample;
mod train;

pub use config::RunConfig;
pub use error::{ErrorKind, PipelineError, Result};
pub use run_folder::RunFolder;
pub use sample::{Draw, SampleReport, SampleRequest, Shard, Synthesizer, run_sampling};
pub use synth_constraints::{Constraint, DatePart, OnViolation};
pub use synth_tabular::{ConditionFrequencies, Sampled};
pub use synth_train::{EpochObserver, EpochSummary, METRICS_FILE, TrainReport};
pub use train::{BURN_VERSION, FitOptions, TrainRequest, fit, run_training};
