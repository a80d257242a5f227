//! Shared vocabulary of the synth workspace: column metadata, output spans of an encoded
//! table, the checkpoint folder and its manifest, seed derivation and atomic file writes. No
//! model code lives here.

pub mod checkpoint;
pub mod column;
pub mod fsutil;
pub mod manifest;
pub mod seed;
pub mod span;
pub mod train;
pub mod valid;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use column::{
    ColumnKind, ColumnMeta, DType, KeyShape, MAX_DECIMALS, Pii, PiiKind, TableMeta, decimals_of,
    round_to,
};
pub use manifest::Manifest;
pub use span::{Activation, Span};
pub use train::{BoxError, Trainable};
pub use valid::{ConfigError, Valid, Validate};
