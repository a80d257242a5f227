//! MST (McKenna, Miklau and Sheldon 2021, winner of the 2018 NIST differential privacy
//! synthetic data challenge): a differentially private synthesizer from noisy marginals.
//!
//! The columns' domains are released first (public ones as declared, the others measured
//! privately: categories by Gaussian partition selection, bounds by a noisy power-of-two
//! histogram); continuous columns are cut into equal bins between their bounds, with missing
//! values a state of their own. Then all one-way marginals are measured with Gaussian noise, a
//! maximum spanning tree of two-way marginals is chosen with the exponential mechanism, and
//! the tree's two-way marginals are measured. A tree-shaped graphical model is estimated from
//! the noisy measurements (consistent marginals by inverse-variance weighting, projection and
//! proportional fitting), and rows are drawn from it, exactly conditioned on `column=value`
//! requirements by belief propagation, and decoded like every other model's (a bin becomes a
//! uniform value within it, then types, formats, decimals, keys and nulls).
//!
//! The budget is `[privacy]`'s `(epsilon, delta)`, accounted in zCDP (see `synth-privacy`);
//! every spend and the epsilon actually spent are saved in the checkpoint as `privacy.json`
//! and reported as the fit's metrics. The checkpoint's transformer keeps no training
//! statistic beyond the released domains.
//!
//! Departures from the paper: no domain compression of rare categories (partition selection
//! already drops categories too rare to release), and the model is fitted to the noisy
//! measurements in closed form on the tree instead of by Private-PGM's mirror descent.

mod config;
mod measure;
mod tree;

pub use config::MstConfig;
pub use measure::{Discretised, project_to_simplex};
pub use tree::{Evidence, Posterior, TreeModel};

use crate::condition::{Fixed, parse_conditions};
use crate::model::{FittedOnce, RowSink, TabularModel, TabularSampler, TrainingTable, write_json};
use crate::transform::{ColumnValues, DataTransformer, ReleasedDomain};
use crate::{Result, TRANSFORMER_FILE, TabularError, read_json};
use burn::tensor::Device;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::path::Path;
use synth_core::seed::{derive_seed, seeded_rng};
use synth_core::{Trainable, Valid};
use synth_privacy::{Budget, noise_source};

/// The fitted model inside a checkpoint folder.
pub const MST_FILE: &str = "mst.json";

/// The privacy ledger inside a checkpoint folder.
pub const PRIVACY_FILE: &str = "privacy.json";

/// A fitted MST: the columns' discretisation and the tree model over their states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedMst {
    /// Per modelled column, in table order.
    pub columns: Vec<Discretised>,
    /// The distribution over the columns' states.
    pub tree: TreeModel,
    /// Per column, the states it never takes: the missing state of a column whose domain is
    /// public and has no missing value (every sample is drawn with these excluded).
    #[serde(default)]
    pub never: Vec<Vec<usize>>,
}

/// Fits MST to the modelled columns' `values`, spending `privacy`'s budget: the released
/// transformer, the model and the ledger.
fn fit(
    config: &Valid<MstConfig>,
    transformer: &DataTransformer,
    values: &[ColumnValues],
    seed: u64,
) -> Result<(DataTransformer, FittedMst, Budget)> {
    let privacy = config.context();
    let columns = transformer.modelled_columns();
    if let Some(unknown) = privacy
        .public
        .iter()
        .find(|name| *name != "*" && !columns.iter().any(|(m, _)| &m.name == *name))
    {
        return Err(TabularError::Config(format!(
            "privacy.public names `{unknown}`, which is not a modelled column (the columns: {})",
            columns
                .iter()
                .map(|(m, _)| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let rows = values.first().map_or(0, ColumnValues::rows);
    if privacy.delta * rows as f64 >= 1.0 {
        return Err(TabularError::Config(format!(
            "privacy.delta = {} is not below 1 / rows (the table has {rows} rows): a delta that large allows releasing a row outright; lower it",
            privacy.delta
        )));
    }
    let any_private_discrete = columns
        .iter()
        .any(|(m, c)| c.is_some() && !privacy.is_public(&m.name));
    let selection_delta = if any_private_discrete {
        privacy.delta / 2.0
    } else {
        0.0
    };
    let mut budget = Budget::new(privacy.epsilon, privacy.delta, selection_delta);
    let mut rng = noise_source(privacy, derive_seed(seed, "mst.noise", 0));
    let domain_rho = budget.rho * config.domain_share;
    let domains =
        measure::release_domains(&columns, values, privacy, domain_rho, &mut budget, &mut rng)?;
    let released = transformer.released(&domains)?;
    let released_columns = released.modelled_columns();
    let mut discretised = Vec::with_capacity(columns.len());
    let mut states = Vec::with_capacity(columns.len());
    let mut never = Vec::with_capacity(columns.len());
    for (((domain, column), (_, released_categories)), (meta, fitted_categories)) in domains
        .iter()
        .zip(values)
        .zip(&released_columns)
        .zip(&columns)
    {
        // a public domain says whether the column has missing values; a private one cannot
        let no_missing = privacy.is_public(&meta.name)
            && match fitted_categories {
                Some((labels, _)) => !labels.iter().any(String::is_empty),
                None => meta.missing == 0.0,
            };
        match (domain, column) {
            (ReleasedDomain::Bounds { min, max }, ColumnValues::Numbers(numbers)) => {
                let d = Discretised::Bins {
                    min: *min,
                    max: *max,
                    bins: config.bins,
                };
                states.push(
                    numbers
                        .iter()
                        .map(|x| x.map_or(config.bins, |x| d.bin(x)))
                        .collect(),
                );
                discretised.push(d);
                never.push(if no_missing {
                    vec![config.bins]
                } else {
                    Vec::new()
                });
            }
            (ReleasedDomain::Categories(kept), ColumnValues::Categories(indices)) => {
                let count = released_categories
                    .as_ref()
                    .map_or(0, |(labels, _)| labels.len());
                // the released list is `kept` in order, then the missing label if it was not
                // kept: categories not released are written as missing
                let missing = released_categories
                    .as_ref()
                    .and_then(|(labels, _)| labels.iter().position(|l| l.is_empty()))
                    .unwrap_or(count - 1);
                let mut remap = vec![missing; indices.iter().max().map_or(0, |m| m + 1)];
                for (state, &i) in kept.iter().enumerate() {
                    if i < remap.len() {
                        remap[i] = state;
                    }
                }
                states.push(indices.iter().map(|&i| remap[i]).collect());
                discretised.push(Discretised::Categories { count });
                never.push(if no_missing {
                    vec![missing]
                } else {
                    Vec::new()
                });
            }
            _ => {
                return Err(TabularError::Config(
                    "the released domains do not follow the columns' kinds".into(),
                ));
            }
        }
    }
    let sizes: Vec<usize> = discretised.iter().map(Discretised::states).collect();
    let tree = measure::measure(&states, &sizes, &mut budget, &mut rng)?;
    Ok((
        released,
        FittedMst {
            columns: discretised,
            tree,
            never,
        },
        budget,
    ))
}

/// A fitted MST with the transformer its rows are decoded with.
pub struct MstSampler {
    transformer: DataTransformer,
    fitted: FittedMst,
}

impl MstSampler {
    /// The model and transformer of a checkpoint folder, checked against each other.
    pub fn load(dir: &Path) -> Result<Self> {
        let transformer = DataTransformer::load(&dir.join(TRANSFORMER_FILE))?;
        let path = dir.join(MST_FILE);
        let fitted: FittedMst = read_json(&path)?;
        let invalid = |message: String| TabularError::InvalidTransformer {
            path: Some(path.clone()),
            message,
        };
        fitted.tree.check().map_err(invalid)?;
        let columns = transformer.modelled_columns();
        let never_fits = fitted.never.is_empty()
            || (fitted.never.len() == columns.len()
                && fitted
                    .never
                    .iter()
                    .zip(&fitted.tree.states)
                    .all(|(n, &k)| n.iter().all(|&s| s < k)));
        if !never_fits {
            return Err(invalid("`never` does not match the columns' states".into()));
        }
        if columns.len() != fitted.columns.len() || fitted.tree.states.len() != columns.len() {
            return Err(invalid(format!(
                "the model has {} columns, the transformer {}",
                fitted.columns.len(),
                columns.len()
            )));
        }
        for (((meta, categories), d), &k) in
            columns.iter().zip(&fitted.columns).zip(&fitted.tree.states)
        {
            let fits = match (d, categories) {
                (Discretised::Bins { min, max, bins }, None) => {
                    min.is_finite() && max.is_finite() && min <= max && *bins >= 1
                }
                (Discretised::Categories { count }, Some((labels, _))) => *count == labels.len(),
                _ => false,
            };
            if !fits || d.states() != k {
                return Err(invalid(format!(
                    "column `{}` does not match the transformer",
                    meta.name
                )));
            }
        }
        Ok(MstSampler {
            transformer,
            fitted,
        })
    }

    /// The evidence and fixed values of `column=value` conditions.
    fn evidence(&self, pairs: &[(String, String)]) -> Result<(Vec<Evidence>, Vec<Option<Fixed>>)> {
        let columns = self.transformer.modelled_columns();
        let fixed = parse_conditions(&columns, pairs, |_| 0.5)?;
        let mut evidence: Vec<Evidence> = self
            .fitted
            .tree
            .states
            .iter()
            .map(|&k| vec![1.0; k])
            .collect();
        for (e, never) in evidence.iter_mut().zip(&self.fitted.never) {
            never.iter().for_each(|&s| e[s] = 0.0);
        }
        let mut values = vec![None; columns.len()];
        for (j, f) in fixed {
            let d = &self.fitted.columns[j];
            let k = d.states();
            let condition: Evidence = match (f, d) {
                (Fixed::Category(c), _) => (0..k).map(|s| f64::from(u8::from(s == c))).collect(),
                (Fixed::Presence(present), _) => (0..k)
                    .map(|s| f64::from(u8::from((s + 1 < k) == present)))
                    .collect(),
                (Fixed::Value(x), _) => {
                    let bin = d.bin(x);
                    (0..k).map(|s| f64::from(u8::from(s == bin))).collect()
                }
                (Fixed::Range(lo, hi), Discretised::Bins { min, max, bins }) => {
                    // the share of each bin inside the range (values are uniform in a bin)
                    let width = (max - min) / *bins as f64;
                    (0..k)
                        .map(|s| {
                            if s == *bins {
                                return 0.0;
                            }
                            let (a, b) = (min + s as f64 * width, min + (s + 1) as f64 * width);
                            if width <= 0.0 {
                                return f64::from(u8::from(lo <= a && a <= hi));
                            }
                            ((b.min(hi) - a.max(lo)) / width).clamp(0.0, 1.0)
                        })
                        .collect()
                }
                (Fixed::Range(..), Discretised::Categories { .. }) => {
                    return Err(TabularError::Config(
                        "a range condition applies to a continuous column".into(),
                    ));
                }
            };
            evidence[j]
                .iter_mut()
                .zip(condition)
                .for_each(|(e, c)| *e *= c);
            values[j] = Some(f);
        }
        Ok((evidence, values))
    }
}

impl TabularSampler for MstSampler {
    fn transformer(&self) -> &DataTransformer {
        &self.transformer
    }

    /// Draws rows in batches of `batch`, conditioned exactly (every row meets the
    /// conditions; the first-pass match rate is 1).
    fn sample_into(
        &self,
        n: usize,
        condition: &[(String, String)],
        batch: usize,
        seed: u64,
        sink: &mut RowSink,
    ) -> Result<Option<f64>> {
        let (evidence, fixed) = self.evidence(condition)?;
        let posterior = self.fitted.tree.posterior(&evidence)?;
        let mut rng = seeded_rng(derive_seed(seed, "mst.sample", 0));
        let d = self.fitted.columns.len();
        let mut row = vec![0usize; d];
        let (batch, mut delivered) = (batch.max(1), 0);
        while delivered < n {
            let want = batch.min(n - delivered);
            let mut columns: Vec<ColumnValues> = self
                .fitted
                .columns
                .iter()
                .map(|c| match c {
                    Discretised::Bins { .. } => ColumnValues::Numbers(Vec::with_capacity(want)),
                    Discretised::Categories { .. } => {
                        ColumnValues::Categories(Vec::with_capacity(want))
                    }
                })
                .collect();
            for _ in 0..want {
                posterior.sample(&mut rng, &mut row);
                for (j, out) in columns.iter_mut().enumerate() {
                    match (out, &self.fitted.columns[j]) {
                        (ColumnValues::Numbers(v), Discretised::Bins { min, max, bins }) => {
                            let width = (max - min) / *bins as f64;
                            let (mut a, mut b) = (
                                min + row[j] as f64 * width,
                                min + (row[j] + 1) as f64 * width,
                            );
                            v.push(match fixed[j] {
                                Some(Fixed::Value(x)) => Some(x),
                                _ if row[j] == *bins => None,
                                Some(Fixed::Range(lo, hi)) => {
                                    (a, b) = (a.max(lo), b.min(hi).max(a.max(lo)));
                                    Some(a + rng.random::<f64>() * (b - a))
                                }
                                _ => Some(a + rng.random::<f64>() * (b - a)),
                            });
                        }
                        (ColumnValues::Categories(v), _) => v.push(row[j]),
                        _ => unreachable!("the buffers follow the columns' kinds"),
                    }
                }
            }
            let table = self
                .transformer
                .decode_values(&columns, want, delivered as u64)?;
            sink(table).map_err(TabularError::Output)?;
            delivered += want;
        }
        Ok((!condition.is_empty()).then_some(1.0))
    }
}

/// MST's "trainer": fitted when built; its one step reports the budget, and its checkpoint
/// holds the released transformer, the fitted tree and the budget's ledger.
fn fitted_once(transformer: DataTransformer, fitted: FittedMst, budget: Budget) -> FittedOnce {
    let figures = vec![
        ("epsilon", budget.epsilon),
        ("delta", budget.delta),
        ("epsilon_spent", budget.epsilon_spent()),
        ("rho", budget.rho),
        ("rho_spent", budget.spent()),
    ];
    let finite = fitted.tree.tables.iter().flatten().all(|v| v.is_finite());
    FittedOnce::new(
        transformer,
        figures,
        (!finite).then_some("mst"),
        move |dir| {
            write_json(dir, MST_FILE, &fitted)?;
            write_json(dir, PRIVACY_FILE, &budget)
        },
    )
}

impl TabularModel for Valid<MstConfig> {
    fn kind(&self) -> &'static str {
        MstConfig::KIND
    }

    fn fitted_on_values(&self) -> bool {
        true
    }

    /// Fits now, spending the budget (a resumed run has nothing left to fit).
    fn trainer(
        &self,
        transformer: DataTransformer,
        table: TrainingTable,
        _device: &Device,
        seed: u64,
        _resume_from: Option<&Path>,
    ) -> Result<Box<dyn Trainable>> {
        let values = table.values()?;
        let (released, fitted, budget) = fit(self, &transformer, &values, seed)?;
        for spend in &budget.spends {
            tracing::info!(
                what = %spend.what,
                mechanism = %spend.mechanism,
                count = spend.count,
                rho = spend.rho,
                scale = spend.scale,
                "privacy budget spent"
            );
        }
        tracing::info!(
            epsilon = budget.epsilon,
            delta = budget.delta,
            rho = budget.rho,
            epsilon_spent = budget.epsilon_spent(),
            "privacy"
        );
        Ok(Box::new(fitted_once(released, fitted, budget)))
    }

    fn sampler(&self, checkpoint: &Path, _device: &Device) -> Result<Box<dyn TabularSampler>> {
        Ok(Box::new(MstSampler::load(checkpoint)?))
    }
}

#[cfg(test)]
mod tests;
