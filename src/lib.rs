//! The command-line edge of synth: the run config (TOML), backend choice, and the model
//! registry that maps a config's `model.kind` to a model crate. The binaries `synth-train`
//! and `synth-sample` are thin wrappers over [`run_training`] and [`run_sampling`];
//! `synth-eval` over [`evaluate::run_evaluation`]; `synth-sample --augment` over
//! [`augment::run_augmentation`].

pub mod augment;
pub mod backend;
pub mod config;
pub mod evaluate;
mod registry;

pub use registry::{
    SampleReport, SampleRequest, TrainRequest, parse_condition, parse_rebalance, run_sampling,
    run_training,
};
pub use synth_tabular::ConditionFrequencies;

/// Logs to stderr through tracing; `RUST_LOG` overrides the default: `info`, without the
/// errors wgpu logs while probing OpenGL drivers it then does not use.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,wgpu_hal::gles=off".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // colours only on a terminal: logs redirected to a file stay plain text
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
