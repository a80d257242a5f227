//! The run config: one TOML file with `seed`, `[data]`, `[transformer]`, `[train]` and
//! `[model]` sections. Unknown keys are errors; omitted keys take the paper defaults.

use crate::backend::Backend;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use synth_data::ColumnOverrides;
use synth_tabular::ctgan::CtganConfig;
use synth_tabular::tvae::TvaeConfig;
use synth_tabular::{TabularModel, TransformerConfig};

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The one seed every random stream derives from.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Training data and column overrides.
    pub data: DataConfig,
    /// Transformer settings.
    #[serde(default)]
    pub transformer: TransformerConfig,
    /// Training loop settings.
    #[serde(default)]
    pub train: TrainConfig,
    /// The model and its hyperparameters.
    pub model: ModelConfig,
}

fn default_seed() -> u64 {
    7
}

/// `[data]`: where the table is and how to read its columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// CSV or Parquet file (relative paths are relative to the working directory).
    pub path: PathBuf,
    /// Kind overrides and limits.
    #[serde(flatten)]
    pub columns: ColumnOverrides,
}

/// `[train]`: the training loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Epochs to train.
    pub epochs: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// Checkpoint every N epochs (and always at the end).
    pub checkpoint_every: usize,
    /// Read losses back every N steps.
    pub log_every: usize,
    /// Run folder for checkpoints and metrics.
    pub out_dir: PathBuf,
    /// Compute backend.
    pub backend: Backend,
    /// Fail instead of falling back to the CPU when wgpu finds no GPU.
    pub strict_backend: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 300,
            batch_size: 500,
            checkpoint_every: 25,
            log_every: 10,
            out_dir: PathBuf::from("runs/default"),
            backend: Backend::Ndarray,
            strict_backend: false,
        }
    }
}

/// `[model]`: which model, with its settings. `kind` selects the variant (its lowercase name).
/// Adding a model means one variant here and one arm in [`ModelConfig::model`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    /// Conditional tabular GAN.
    Ctgan(CtganConfig),
    /// Tabular variational autoencoder.
    Tvae(TvaeConfig),
}

impl ModelConfig {
    /// The model behind the settings.
    pub fn model(&self) -> &dyn TabularModel {
        match self {
            ModelConfig::Ctgan(c) => c,
            ModelConfig::Tvae(c) => c,
        }
    }

    /// The kind written to checkpoint manifests.
    pub fn kind(&self) -> &'static str {
        self.model().kind()
    }
}

impl RunConfig {
    /// Reads and validates a config file; errors name the file and the offending key/line.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: RunConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.train.epochs > 0, "train.epochs must be at least 1");
        anyhow::ensure!(
            self.train.batch_size > 0,
            "train.batch_size must be at least 1"
        );
        anyhow::ensure!(
            self.transformer.mixture.max_modes > 0,
            "transformer.max_modes must be at least 1"
        );
        self.model
            .model()
            .validate(self.train.batch_size)
            .map_err(anyhow::Error::msg)
    }

    /// The resolved config as TOML (every default spelled out).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[data]\npath = \"x.csv\"\n[model]\nkind = \"ctgan\"\n";

    #[test]
    fn defaults_fill_a_minimal_config() {
        let c = RunConfig::parse(MINIMAL).unwrap();
        assert_eq!(c.seed, 7);
        assert_eq!(c.train, TrainConfig::default());
        assert_eq!(c.model, ModelConfig::Ctgan(CtganConfig::default()));
        assert_eq!(
            RunConfig::parse(&c.to_toml()).unwrap(),
            c,
            "the resolved config parses back"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        for (text, key) in [
            (format!("{MINIMAL}embeding_dim = 3\n"), "embeding_dim"),
            (
                MINIMAL.replace("[model]", "[train]\nepoch = 3\n[model]"),
                "epoch",
            ),
            (MINIMAL.replace("[model]", "[data2]\n[model]"), "data2"),
            (
                MINIMAL.replace("path = \"x.csv\"", "path = \"x.csv\"\ndiscret = []"),
                "discret",
            ),
        ] {
            let err = format!("{:#}", RunConfig::parse(&text).unwrap_err());
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn bad_values_are_explained() {
        let err = format!(
            "{:#}",
            RunConfig::parse(&MINIMAL.replace("[model]", "[train]\nbatch_size = 7\n[model]"))
                .unwrap_err()
        );
        assert!(err.contains("pac"), "{err}");
        let err = format!(
            "{:#}",
            RunConfig::parse(&MINIMAL.replace("ctgan", "gan")).unwrap_err()
        );
        assert!(err.contains("gan"), "{err}");
        let err = format!("{:#}", RunConfig::parse("[data\npath = 1").unwrap_err());
        assert!(err.contains("line 1"), "{err}");
        let err = format!(
            "{:#}",
            RunConfig::parse(&format!(
                "{}loss_factor = 0\n",
                MINIMAL.replace("ctgan", "tvae")
            ))
            .unwrap_err()
        );
        assert!(err.contains("loss_factor"), "{err}");
    }

    #[test]
    fn every_kind_matches_its_serde_tag() {
        for model in [
            ModelConfig::Ctgan(CtganConfig::default()),
            ModelConfig::Tvae(TvaeConfig::default()),
        ] {
            let text = MINIMAL.replace("ctgan", model.kind());
            let parsed = RunConfig::parse(&text).unwrap();
            assert_eq!(parsed.model, model);
            assert!(
                parsed
                    .to_toml()
                    .contains(&format!("kind = \"{}\"", model.kind()))
            );
        }
    }
}
