//! The run config: one TOML file with `seed`, `[data]`, `[transformer]`, `[train]`, `[model]`
//! and the optional `[eval]` sections. Unknown keys are errors; omitted keys take the paper defaults.
//! `[data]` holds a table's column overrides for the tabular models and the image settings
//! for the image model; keys of the other kind are errors.

use crate::backend::Backend;
use crate::error::{Context, PipelineError, Result, ensure};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use synth_constraints::{Constraint, OnViolation};
use synth_core::{ConfigError, Validate};
use synth_data::ColumnOverrides;
use synth_data::images::{ImageSpec, OnCorrupt};
use synth_image::ImageModel;
use synth_image::cdcgan::CdcganConfig;
use synth_image::dcgan::DcganConfig;
use synth_image::gan::ImageRun;
use synth_privacy::PrivacyConfig;
use synth_tabular::argn::ArgnConfig;
use synth_tabular::copula::GaussianCopulaConfig;
use synth_tabular::ctgan::CtganConfig;
use synth_tabular::mixture::MixtureConfig;
use synth_tabular::mst::MstConfig;
use synth_tabular::tvae::PrivateTvae;
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
    /// Tabular models: score checkpoints while training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<EvalConfig>,
    /// Tabular models: business rules every sampled row obeys (`[[constraints]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    /// Differential privacy (`[privacy]`): the budget of a private model (`kind = "mst"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyConfig>,
}

/// `[eval]`: every `every` epochs, sample `rows` rows from the checkpoint just written and
/// score them against the training table (quality) and, with `target`, the `holdout` rows
/// (train-on-synthetic ROC AUC, or R^2 for a continuous target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// Real rows the model never trains on (CSV or Parquet), to test the utility on.
    pub holdout: Option<PathBuf>,
    /// Column to predict for the utility score (needs `holdout`).
    pub target: Option<String>,
    /// Synthetic rows sampled per evaluation.
    pub rows: usize,
    /// Evaluate every this many epochs (and after the last); 0 means `train.checkpoint_every`.
    pub every: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            holdout: None,
            target: None,
            rows: 10_000,
            every: 0,
        }
    }
}

fn default_seed() -> u64 {
    7
}

/// `[data]`: where the data is and how to read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Tables: a CSV or Parquet file. Images: a folder of PNG/JPEG files (searched
    /// recursively) or an MNIST-style IDX image file (plain or gzip). Relative paths are
    /// relative to the working directory.
    pub path: PathBuf,
    /// Images: width and height after resizing and centre-cropping (28, 32 or 64); default
    /// 28 for an IDX file, 64 for a folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<u32>,
    /// Images: 1 (grayscale) or 3 (RGB); default 1 for an IDX file, 3 for a folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    /// Images: `fail` (the default) stops at an undecodable file, `skip` leaves it out with a
    /// warning naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_corrupt: Option<OnCorrupt>,
    /// Images in an IDX file: the IDX label file giving each image's class (class-conditional
    /// models need labels; a folder's images take their classes from its subfolders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<PathBuf>,
    /// Tables: a metadata file (as `synth-train` writes to `<out_dir>/metadata.toml`, perhaps
    /// edited) describing every column; it replaces the column lists, bounds and formats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PathBuf>,
    /// Tables: what training does with a row that breaks a `[[constraints]]` entry: `fail`
    /// (an error naming the row) or `drop` (left out, with a warning counting them).
    #[serde(default, skip_serializing_if = "is_default")]
    pub on_violation: OnViolation,
    /// Tables: kind overrides and limits.
    #[serde(flatten)]
    pub columns: ColumnOverrides,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl DataConfig {
    /// How to load the images, defaults filled in from the kind of `path`.
    pub fn image_spec(&self) -> ImageSpec {
        let folder = self.path.is_dir();
        ImageSpec {
            size: self.image_size.unwrap_or(if folder { 64 } else { 28 }),
            channels: self.channels.unwrap_or(if folder { 3 } else { 1 }),
            on_corrupt: self.on_corrupt.unwrap_or_default(),
        }
    }

    /// Writes the image defaults into the config, so that the copy saved with a checkpoint
    /// says exactly what the model was trained on.
    pub fn resolve_image_spec(&mut self) {
        let spec = self.image_spec();
        self.image_size = Some(spec.size);
        self.channels = Some(spec.channels);
        self.on_corrupt = Some(spec.on_corrupt);
    }

    fn image_keys_used(&self) -> bool {
        self.image_size.is_some()
            || self.channels.is_some()
            || self.on_corrupt.is_some()
            || self.labels.is_some()
    }
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
    /// Image models: write a grid of 64 samples to `<out_dir>/samples/epoch-NNNN.png` every N
    /// epochs (0: never). Tabular models write none.
    pub preview_every: usize,
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
            preview_every: 1,
            out_dir: PathBuf::from("runs/default"),
            backend: Backend::Auto,
            strict_backend: false,
        }
    }
}

/// `[model]`: which model, with its settings. `kind` selects the variant (its lowercase name).
/// Adding a model means one variant here and its arms in [`ModelConfig::validated`] and
/// [`ModelConfig::kind`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    /// Conditional tabular GAN.
    Ctgan(CtganConfig),
    /// Tabular variational autoencoder.
    Tvae(TvaeConfig),
    /// Gaussian copula (statistical baseline, fitted in closed form).
    Gaussiancopula(GaussianCopulaConfig),
    /// MST: differentially private, from noisy marginals (needs `[privacy]`).
    Mst(MstConfig),
    /// TabularARGN: an any-order autoregressive network over column tokens.
    Argn(ArgnConfig),
    /// A latent-class mixture fitted by expectation-maximisation.
    Mixture(MixtureConfig),
    /// Deep convolutional GAN for images.
    Dcgan(DcganConfig),
    /// Class-conditional DCGAN for labelled images.
    Cdcgan(CdcganConfig),
}

/// The model behind a validated config: a tabular model (trained on a table through the data
/// transformer) or an image model, its settings checked against the run.
pub enum Model {
    /// CTGAN, TVAE, TabularARGN, GaussianCopula or the latent-class mixture.
    Table(Box<dyn TabularModel>),
    /// DCGAN or the class-conditional DCGAN.
    Image(Box<dyn ImageModel>),
}

impl ModelConfig {
    /// The model behind the settings, checked against the batch size and, for image models,
    /// the image size `data` gives: the one place where a kind becomes a model.
    pub fn validated(
        &self,
        data: &DataConfig,
        train: &TrainConfig,
        privacy: Option<&PrivacyConfig>,
    ) -> Result<Model, ConfigError> {
        let batch_size = train.batch_size;
        let image = || ImageRun {
            image_size: data.image_spec().size,
            batch_size,
        };
        Ok(match self.clone() {
            ModelConfig::Ctgan(c) => Model::Table(Box::new(c.validated(batch_size)?)),
            ModelConfig::Tvae(c) => match privacy {
                None => Model::Table(Box::new(c.validated(batch_size)?)),
                Some(privacy) => Model::Table(Box::new(PrivateTvae::new(
                    c.validated(batch_size)?,
                    privacy.clone().validated(())?,
                    train.epochs,
                )?)),
            },
            ModelConfig::Gaussiancopula(c) => Model::Table(Box::new(c.validated(batch_size)?)),
            ModelConfig::Mst(c) => match privacy {
                Some(privacy) => Model::Table(Box::new(c.validated(privacy.clone())?)),
                None => {
                    return Err(ConfigError::Unsupported {
                        key: "model.kind",
                        value: "\"mst\"".into(),
                        supported: "MST is differentially private: give its budget in a [privacy] section (epsilon = ...)".into(),
                    });
                }
            },
            ModelConfig::Argn(c) => Model::Table(Box::new(c.validated(batch_size)?)),
            ModelConfig::Mixture(c) => Model::Table(Box::new(c.validated(batch_size)?)),
            ModelConfig::Dcgan(c) => Model::Image(Box::new(c.validated(image())?)),
            ModelConfig::Cdcgan(c) => Model::Image(Box::new(c.validated(image())?)),
        })
    }

    /// The kind written to checkpoint manifests.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Ctgan(_) => CtganConfig::KIND,
            ModelConfig::Tvae(_) => TvaeConfig::KIND,
            ModelConfig::Gaussiancopula(_) => GaussianCopulaConfig::KIND,
            ModelConfig::Mst(_) => MstConfig::KIND,
            ModelConfig::Argn(_) => ArgnConfig::KIND,
            ModelConfig::Mixture(_) => MixtureConfig::KIND,
            ModelConfig::Dcgan(_) => DcganConfig::KIND,
            ModelConfig::Cdcgan(_) => CdcganConfig::KIND,
        }
    }

    /// Whether the model trains on images (else on a table).
    pub fn is_image(&self) -> bool {
        matches!(self, ModelConfig::Dcgan(_) | ModelConfig::Cdcgan(_))
    }
}

impl RunConfig {
    /// Reads and validates a config file; errors name the file and the offending key/line.
    pub fn load(path: &Path) -> Result<Self> {
        Ok(Self::load_validated(path)?.0)
    }

    /// [`RunConfig::load`], keeping the validated model.
    pub fn load_validated(path: &Path) -> Result<(Self, Model)> {
        let text = std::fs::read_to_string(path)
            .map_err(crate::error::io(path))
            .context("cannot read the config file")?;
        Self::parse_validated(&text)
            .with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(Self::parse_validated(text)?.0)
    }

    /// [`RunConfig::parse`], keeping the validated model.
    fn parse_validated(text: &str) -> Result<(Self, Model)> {
        let config: RunConfig = toml::from_str(text)?;
        let model = config.validate()?;
        Ok((config, model))
    }

    /// Checks values that serde cannot, and returns the model, validated: trainers and
    /// samplers accept only the validated model. (`synth-train` validates the file as read,
    /// for errors that name it, and again after its command-line overrides.)
    pub fn validate(&self) -> Result<Model> {
        let holdout = self.eval.as_ref().and_then(|e| e.holdout.as_deref());
        for (key, path) in [
            ("data.path", Some(self.data.path.as_path())),
            ("train.out_dir", Some(self.train.out_dir.as_path())),
            ("eval.holdout", holdout),
            ("data.metadata", self.data.metadata.as_deref()),
            ("data.labels", self.data.labels.as_deref()),
        ] {
            if let Some(path) = path.filter(|p| p.to_str().is_none()) {
                return Err(PipelineError::Invalid(format!(
                    "{key} `{}` is not valid UTF-8; every checkpoint stores its run config as TOML, which holds only UTF-8 text, so rename the folder or choose another path",
                    path.display()
                )));
            }
        }
        let resolved = toml::Value::try_from(self).expect("a config serialises");
        check_floats(&resolved)?;
        ensure(self.train.epochs > 0, || {
            "train.epochs must be at least 1".into()
        })?;
        ensure(self.train.batch_size > 0, || {
            "train.batch_size must be at least 1".into()
        })?;
        let kind = self.model.kind();
        if self.model.is_image() {
            self.validate_images()?;
            ensure(self.constraints.is_empty(), || {
                format!("[[constraints]] bind a table's columns; {kind} trains on images")
            })?;
        } else {
            ensure(!self.data.image_keys_used(), || {
                format!(
                    "data.image_size, data.channels, data.on_corrupt and data.labels apply to image models (model.kind = \"dcgan\" or \"cdcgan\"), not to {kind}"
                )
            })?;
            self.transformer.check(&())?;
            ensure(
                self.data.metadata.is_none() || !self.data.columns.names_columns(),
                || {
                    "data.metadata describes every column; edit the file instead of also giving data.discrete, data.continuous, data.keys, data.ignore, data.bounds or data.formats".into()
                },
            )?;
            if let Some(eval) = &self.eval {
                ensure(eval.rows > 0, || "eval.rows must be at least 1".into())?;
                ensure(eval.target.is_none() || eval.holdout.is_some(), || {
                    "eval.target needs eval.holdout: real rows the model never trains on, to test the utility on".into()
                })?;
            }
        }
        if self.privacy.is_some() {
            self.validate_private()?;
        }
        Ok(self
            .model
            .validated(&self.data, &self.train, self.privacy.as_ref())?)
    }

    /// What a differentially private run refuses: models without a private fit, and what
    /// would publish the training rows around the model.
    fn validate_private(&self) -> Result<()> {
        let kind = self.model.kind();
        ensure(
            matches!(self.model, ModelConfig::Mst(_) | ModelConfig::Tvae(_)),
            || {
                format!(
                    "[privacy] applies to model.kind = \"mst\" (noisy marginals) and \"tvae\" (DP-SGD); {kind} has no private fit, so remove [privacy] or use one of them"
                )
            },
        )?;
        ensure(self.eval.is_none(), || {
            "[eval] scores checkpoints against the real rows and logs the figures, which are not differentially private; remove [eval] and score the samples with synth-eval".into()
        })?;
        ensure(self.constraints.is_empty(), || {
            "[[constraints]] are fitted on the real rows without privacy; remove them from a [privacy] run".into()
        })
    }

    /// The `[data]` and `[eval]` checks of an image model.
    fn validate_images(&self) -> Result<()> {
        ensure(
            self.data.columns == ColumnOverrides::default() && self.data.metadata.is_none(),
            || {
                "data.discrete, data.continuous, data.keys, data.ignore, data.bounds, data.formats, data.on_unparseable, data.metadata, data.discrete_int_max_distinct and data.max_categories apply to tables, not to images".into()
            },
        )?;
        let channels = self.data.image_spec().channels;
        ensure(matches!(channels, 1 | 3), || {
            format!("data.channels = {channels}: use 1 (grayscale) or 3 (RGB)")
        })?;
        ensure(self.eval.is_none(), || {
            format!(
                "[eval] scores tables; image models (model.kind = \"{}\") take no [eval] section",
                self.model.kind()
            )
        })?;
        ensure(
            self.data.labels.is_none() || !self.data.path.is_dir(),
            || {
                "data.labels names an IDX label file for an IDX image file; a folder's images take their classes from its subfolders".into()
            },
        )?;
        Ok(())
    }

    /// The config shipped in `configs/<kind>.toml` for a model kind (the defaults a user of
    /// the library starts from), or `None` for an unknown kind.
    pub fn shipped(kind: &str) -> Option<RunConfig> {
        let text = SHIPPED.iter().find(|(k, _)| *k == kind)?.1;
        Some(Self::parse(text).expect("the shipped configs parse"))
    }

    /// The config shipped for a differentially private run of `kind`: `configs/tvae-dp.toml`
    /// (DP-SGD, a network sized for it) for TVAE, `configs/mst.toml` for MST, and `None` for
    /// a kind without a private fit.
    pub fn shipped_private(kind: &str) -> Option<RunConfig> {
        match kind {
            "tvae" => Some(
                Self::parse(include_str!("../../../configs/tvae-dp.toml"))
                    .expect("the shipped configs parse"),
            ),
            "mst" => Self::shipped(kind),
            _ => None,
        }
    }

    /// The resolved config as TOML (every default spelled out).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }
}

/// The shipped configs, by kind (checked against every default by a test).
const SHIPPED: [(&str, &str); 8] = [
    ("ctgan", include_str!("../../../configs/ctgan.toml")),
    ("tvae", include_str!("../../../configs/tvae.toml")),
    (
        "gaussiancopula",
        include_str!("../../../configs/gaussiancopula.toml"),
    ),
    ("argn", include_str!("../../../configs/argn.toml")),
    ("mixture", include_str!("../../../configs/mixture.toml")),
    ("mst", include_str!("../../../configs/mst.toml")),
    ("dcgan", include_str!("../../../configs/dcgan.toml")),
    ("cdcgan", include_str!("../../../configs/cdcgan.toml")),
];

/// Every float in the resolved config must be finite (TOML can spell `nan` and `inf`); the
/// ranges of each setting are checked where it is defined (each config's `Validate`). Errors
/// name the key.
fn check_floats(config: &toml::Value) -> Result<()> {
    for (key, value) in toml_leaves(config) {
        let floats: Vec<f64> = match value {
            toml::Value::Float(v) => vec![*v],
            toml::Value::Array(items) => items.iter().filter_map(toml::Value::as_float).collect(),
            _ => continue,
        };
        for v in &floats {
            ensure(v.is_finite(), || {
                format!("{key} = {v}: must be a finite number")
            })?;
        }
    }
    Ok(())
}

/// Every leaf of a TOML value (arrays count as leaves) with its dotted key, e.g.
/// `("model.tau", 0.2)`.
pub(crate) fn toml_leaves(value: &toml::Value) -> Vec<(String, &toml::Value)> {
    fn walk<'a>(value: &'a toml::Value, key: String, out: &mut Vec<(String, &'a toml::Value)>) {
        match value {
            toml::Value::Table(table) => {
                for (name, v) in table {
                    let path = if key.is_empty() {
                        name.clone()
                    } else {
                        format!("{key}.{name}")
                    };
                    walk(v, path, out);
                }
            }
            leaf => out.push((key, leaf)),
        }
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[data]\npath = \"x.csv\"\n[model]\nkind = \"ctgan\"\n";

    /// `data.metadata` describes every column, so giving a column list, bound or format
    /// beside it is an error; the inference limits may still be set.
    #[test]
    fn data_metadata_replaces_the_column_settings() {
        let with = |extra: &str| {
            RunConfig::parse(
                &MINIMAL.replace("[model]", &format!("metadata = \"m.toml\"\n{extra}[model]")),
            )
        };
        assert!(with("").is_ok());
        assert!(with("max_categories = 50\non_unparseable = \"missing\"\n").is_ok());
        for extra in [
            "discrete = [\"a\"]\n",
            "keys = [\"id\"]\n",
            "formats = { day = \"%d/%m/%Y\" }\n",
            "[data.bounds]\nage = [0, 1]\n",
        ] {
            let err = format!("{:#}", with(extra).unwrap_err());
            assert!(err.contains("edit the file instead"), "{extra}: {err}");
        }
    }

    /// `[data.bounds]` reads integer or float pairs (or dates as text), survives the saved
    /// config, and refuses a non-finite bound by key.
    #[test]
    fn data_bounds_parse_and_round_trip() {
        let text = MINIMAL.replace(
            "[model]",
            "[data.bounds]\nage = [0, 120]\namount = [0.5, 1e4]\nday = [\"2020-01-01\", \"2024-12-31\"]\n[model]",
        );
        let c = RunConfig::parse(&text).unwrap();
        let number = synth_data::Bound::Number;
        assert_eq!(c.data.columns.bounds["age"], [number(0.0), number(120.0)]);
        assert_eq!(c.data.columns.bounds["amount"], [number(0.5), number(1e4)]);
        assert_eq!(
            c.data.columns.bounds["day"],
            ["2020-01-01", "2024-12-31"].map(|d| synth_data::Bound::Text(d.into()))
        );
        assert_eq!(RunConfig::parse(&c.to_toml()).unwrap(), c);
        let err = RunConfig::parse(&text.replace("1e4", "inf")).unwrap_err();
        assert!(format!("{err:#}").contains("amount"), "{err:#}");
    }

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
    fn image_settings_take_defaults_from_the_data_kind_and_stay_with_images() {
        let idx = MINIMAL.replace("ctgan", "dcgan");
        let c = RunConfig::parse(&idx).unwrap();
        assert_eq!(
            c.data.image_spec(),
            ImageSpec {
                size: 28,
                channels: 1,
                on_corrupt: OnCorrupt::Fail
            }
        );
        let folder = tempfile::tempdir().unwrap();
        let mut c =
            RunConfig::parse(&idx.replace("x.csv", folder.path().to_str().unwrap())).unwrap();
        assert_eq!(
            (c.data.image_spec().size, c.data.image_spec().channels),
            (64, 3)
        );
        c.data.resolve_image_spec();
        let saved = c.to_toml();
        assert!(
            saved.contains("image_size = 64") && saved.contains("channels = 3"),
            "{saved}"
        );
        assert_eq!(RunConfig::parse(&saved).unwrap(), c);

        for (text, needle) in [
            (
                idx.replace("path = \"x.csv\"", "path = \"x.csv\"\nimage_size = 48"),
                "28, 32 or 64",
            ),
            (
                idx.replace("path = \"x.csv\"", "path = \"x.csv\"\nchannels = 2"),
                "data.channels = 2",
            ),
            (
                idx.replace("path = \"x.csv\"", "path = \"x.csv\"\ndiscrete = [\"a\"]"),
                "apply to tables",
            ),
            (
                MINIMAL.replace("path = \"x.csv\"", "path = \"x.csv\"\nimage_size = 28"),
                "apply to image models",
            ),
            (
                idx.replace(
                    "path = \"x.csv\"",
                    "path = \"x.csv\"\non_corrupt = \"ignore\"",
                ),
                "ignore",
            ),
        ] {
            let err = format!("{:#}", RunConfig::parse(&text).unwrap_err());
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }

    #[test]
    fn float_settings_must_be_finite_and_in_range() {
        let tvae = MINIMAL.replace("ctgan", "tvae");
        for (text, needle) in [
            (
                format!("{MINIMAL}tau = nan\n"),
                "model.tau = NaN: must be a finite",
            ),
            (
                format!("{MINIMAL}generator_lr = -0.1\n"),
                "model.generator_lr must be positive (got -0.1)",
            ),
            (format!("{MINIMAL}gp_lambda = -1.0\n"), "model.gp_lambda"),
            (format!("{MINIMAL}betas = [0.5, 1.0]\n"), "model.betas"),
            (
                format!("{tvae}learning_rate = inf\n"),
                "model.learning_rate = inf",
            ),
            (
                MINIMAL.replace("[model]", "[transformer]\nreg_covar = 0.0\n[model]"),
                "transformer.reg_covar",
            ),
            (
                MINIMAL.replace("[model]", "[transformer]\nweight_threshold = -0.1\n[model]"),
                "transformer.weight_threshold must be in [0, inf) (got -0.1)",
            ),
            (
                format!("{MINIMAL}discriminator_decay = -1e-6\n"),
                "model.discriminator_decay must be in [0, inf)",
            ),
        ] {
            let err = format!("{:#}", RunConfig::parse(&text).unwrap_err());
            assert!(err.contains(needle), "{needle}: {err}");
        }
        assert!(RunConfig::parse(&format!("{MINIMAL}gp_lambda = 0.0\n")).is_ok());
    }

    #[test]
    fn eval_section_is_checked() {
        let with = |section: &str| format!("{MINIMAL}[eval]\n{section}");
        let c = RunConfig::parse(&with("target = \"income\"\nholdout = \"t.csv\"\n")).unwrap();
        let eval = c.eval.clone().unwrap();
        assert_eq!((eval.rows, eval.every), (10_000, 0));
        assert_eq!(RunConfig::parse(&c.to_toml()).unwrap(), c);
        for (section, needle) in [
            ("target = \"income\"\n", "eval.holdout"),
            ("rows = 0\n", "eval.rows"),
            ("row = 5\n", "row"),
        ] {
            let err = format!("{:#}", RunConfig::parse(&with(section)).unwrap_err());
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let err = RunConfig::parse(&with("").replace("ctgan", "dcgan")).unwrap_err();
        assert!(err.to_string().contains("[eval]"), "{err}");
    }

    /// The private configs: TVAE's (configs/tvae-dp.toml) is a valid DP-SGD run on public
    /// domains whose sampler draws categories; MST's is its shipped one; others have none.
    #[test]
    fn private_configs_are_shipped_for_the_private_kinds() {
        assert!(RunConfig::shipped_private("ctgan").is_none());
        let mst = RunConfig::shipped_private("mst").unwrap();
        assert_eq!(mst.model.kind(), "mst");
        assert!(mst.privacy.is_some());
        let config = RunConfig::shipped_private("tvae").unwrap();
        assert_eq!(config.privacy.as_ref().unwrap().public, ["*"]);
        let ModelConfig::Tvae(tvae) = &config.model else {
            panic!("{:?}", config.model)
        };
        assert_eq!(
            tvae.category_decoding(false),
            synth_tabular::tvae::CategoryDecoding::Sample
        );
    }

    #[test]
    fn privacy_goes_with_mst_and_tvae_alone_and_is_checked() {
        let mst = MINIMAL.replace("ctgan", "mst");
        let err = format!("{:#}", RunConfig::parse(&mst).unwrap_err());
        assert!(err.contains("[privacy]"), "{err}");
        let private = |model: &str, extra: &str| {
            RunConfig::parse(&format!(
                "{}{extra}[privacy]\nepsilon = 1.0\n",
                MINIMAL.replace("ctgan", model)
            ))
        };
        assert!(private("mst", "").is_ok());
        let tvae = format!(
            "{}[privacy]\nepsilon = 1.0\npublic = [\"*\"]\n",
            MINIMAL.replace("ctgan", "tvae")
        );
        assert!(RunConfig::parse(&tvae).is_ok());
        for (model, extra, needle) in [
            ("ctgan", "", "no private fit"),
            ("tvae", "", "privacy.public"),
            ("mst", "[eval]\nrows = 10\n", "[eval]"),
            (
                "mst",
                "[[constraints]]\nkind = \"inequality\"\nlow = \"a\"\nhigh = \"b\"\n",
                "[[constraints]]",
            ),
        ] {
            let err = format!("{:#}", private(model, extra).unwrap_err());
            assert!(err.contains(needle), "{model} {extra}: {err}");
        }
        for (privacy, key) in [
            ("epsilon = 0.0", "privacy.epsilon"),
            ("epsilon = 1.0\ndelta = 2.0", "privacy.delta"),
            ("epsilon = 1.0\nepsilom = 1.0", "epsilom"),
        ] {
            let text = format!("{mst}[privacy]\n{privacy}\n");
            let err = format!("{:#}", RunConfig::parse(&text).unwrap_err());
            assert!(err.contains(key), "{privacy}: {err}");
        }
    }

    /// The README says the shipped configs show every default: each `[train]`, `[model]` and
    /// (for tables) `[transformer]` key the resolved config holds is spelled out in the file
    /// with the value it resolves to.
    #[test]
    fn shipped_configs_spell_out_every_default() {
        for (name, text) in SHIPPED {
            assert_eq!(RunConfig::shipped(name).unwrap().model.kind(), name);
            let file: toml::Table = toml::from_str(text).unwrap();
            let resolved = toml::Value::try_from(RunConfig::parse(text).unwrap()).unwrap();
            // image models have no transformer; the copula uses none of its mixture settings
            let sections: &[&str] = if matches!(
                name,
                "dcgan" | "cdcgan" | "gaussiancopula" | "argn" | "mixture" | "mst"
            ) {
                &["train", "model"]
            } else {
                &["train", "model", "transformer"]
            };
            for section in sections {
                let written = file[*section].as_table().unwrap();
                for (key, value) in resolved[*section].as_table().unwrap() {
                    if key == "preview_every" && !name.ends_with("dcgan") {
                        continue; // image models only
                    }
                    assert_eq!(
                        written.get(key),
                        Some(value),
                        "{name}.toml: [{section}] {key}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_kind_matches_its_serde_tag() {
        for model in [
            ModelConfig::Ctgan(CtganConfig::default()),
            ModelConfig::Tvae(TvaeConfig::default()),
            ModelConfig::Gaussiancopula(GaussianCopulaConfig::default()),
            ModelConfig::Argn(ArgnConfig::default()),
            ModelConfig::Mixture(MixtureConfig::default()),
            ModelConfig::Dcgan(DcganConfig::default()),
            ModelConfig::Cdcgan(CdcganConfig::default()),
        ] {
            let text = MINIMAL.replace("ctgan", model.kind());
            let parsed = RunConfig::parse(&text).unwrap();
            assert_eq!(parsed.model, model);
            let shipped = RunConfig::shipped(model.kind()).expect("every kind ships a config");
            assert_eq!(shipped.model.kind(), model.kind());
            assert!(
                parsed
                    .to_toml()
                    .contains(&format!("kind = \"{}\"", model.kind()))
            );
        }
    }
}
