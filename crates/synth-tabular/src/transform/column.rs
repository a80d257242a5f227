//! Per-column encodings: mode-specific normalisation and one-hot.

use super::ReleasedDomain;
use super::vgmm::{Mixture, MixtureConfig};
use crate::{Result, TabularError};
use polars::prelude::*;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use synth_core::seed::{SeededRng, seeded_rng};
use synth_core::{ColumnKind, ColumnMeta, Span};
use synth_data::keys::key_column;
use synth_data::values::{category_labels, labels_column, model_values, numbers_column};

/// Label of the missing-value category in discrete columns and conditions.
pub const MISSING_LABEL: &str = "";

/// One modelled column's values, as statistical models (fitted on values rather than on the
/// mode-specific encoding) read and write them.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Continuous: numbers (dates and times as days or seconds), `None` for missing.
    Numbers(Vec<Option<f64>>),
    /// Discrete: each row's category, an index into the fitted categories (missing is one).
    Categories(Vec<usize>),
}

impl ColumnValues {
    /// The number of rows.
    pub fn rows(&self) -> usize {
        match self {
            ColumnValues::Numbers(v) => v.len(),
            ColumnValues::Categories(v) => v.len(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(super) enum ColumnEncoding {
    Continuous(ContinuousEncoding),
    Discrete(DiscreteEncoding),
    /// Not modelled: regenerated from the column's key shape.
    Key,
    /// Not modelled: written back as missing values.
    Ignored,
}

impl ColumnEncoding {
    pub(super) fn spans(&self) -> Vec<Span> {
        match self {
            ColumnEncoding::Continuous(c) => {
                let mut spans = vec![Span::scalar(), Span::one_hot(c.mixture.n_modes())];
                if c.has_nulls {
                    spans.push(Span::one_hot(2));
                }
                spans
            }
            ColumnEncoding::Discrete(d) => vec![Span::one_hot(d.categories.len())],
            ColumnEncoding::Key | ColumnEncoding::Ignored => Vec::new(),
        }
    }

    pub(super) fn width(&self) -> usize {
        self.spans().iter().map(|s| s.width).sum()
    }

    /// Offset within the column's block, labels and training counts of its conditional
    /// one-hot span, if it has one.
    pub(super) fn condition_labels(&self) -> Option<(usize, Vec<String>, Vec<usize>)> {
        match self {
            ColumnEncoding::Continuous(c) if c.has_nulls => Some((
                1 + c.mixture.n_modes(),
                vec!["present".into(), "missing".into()],
                c.presence_counts.to_vec(),
            )),
            ColumnEncoding::Continuous(_) | ColumnEncoding::Key | ColumnEncoding::Ignored => None,
            ColumnEncoding::Discrete(_) => self
                .categories()
                .map(|(labels, counts)| (0, labels, counts)),
        }
    }

    /// Checks an encoding read from a file against its column's description (see
    /// [`super::DataTransformer::check`]).
    pub(super) fn check(&self, meta: &ColumnMeta) -> std::result::Result<(), String> {
        match self {
            ColumnEncoding::Continuous(c) => {
                if meta.kind != ColumnKind::Continuous {
                    return Err("described as discrete but encoded as continuous".into());
                }
                c.mixture.check()?;
                // a released transformer keeps `has_nulls` with zero counts
                if !c.has_nulls && c.presence_counts[1] > 0 {
                    return Err("`has_nulls` disagrees with the missing-value count".into());
                }
                Ok(())
            }
            ColumnEncoding::Discrete(d) => {
                if meta.kind != ColumnKind::Discrete {
                    return Err("described as continuous but encoded as discrete".into());
                }
                if d.categories.is_empty() {
                    return Err("a discrete column without categories".into());
                }
                if d.counts.len() != d.categories.len() {
                    return Err(format!(
                        "{} categories but {} counts",
                        d.categories.len(),
                        d.counts.len()
                    ));
                }
                let mut seen = std::collections::HashSet::new();
                match d.categories.iter().find(|c| !seen.insert(*c)) {
                    Some(c) => Err(format!("category {c:?} is listed twice")),
                    None => Ok(()),
                }
            }
            ColumnEncoding::Key => match &meta.key {
                Some(key) if meta.kind == ColumnKind::Key => key.check(meta.dtype),
                _ => Err("encoded as a key but not described as one with a key shape".into()),
            },
            ColumnEncoding::Ignored if meta.kind != ColumnKind::Ignored => {
                Err("encoded as ignored but not described as ignored".into())
            }
            ColumnEncoding::Ignored => Ok(()),
        }
    }

    /// Encodes one column (or a run of its rows) into a row-major `rows x width` block (empty
    /// for the columns that are not modelled), with the number of values that had to be
    /// encoded as stand-ins (see [`ColumnEncoding::warn_stand_ins`]).
    pub(super) fn encode(
        &self,
        meta: &ColumnMeta,
        column: &Column,
        seed: u64,
    ) -> Result<(Vec<f32>, usize)> {
        match self {
            ColumnEncoding::Continuous(c) => c.encode(meta, column, seed),
            ColumnEncoding::Discrete(d) => d.encode(meta, column),
            ColumnEncoding::Key | ColumnEncoding::Ignored => Ok((Vec::new(), 0)),
        }
    }

    /// Logs, once per encoding, how many values were encoded as stand-ins: missing values in a
    /// continuous column that had none at fit time, categories unseen at fit time.
    pub(super) fn warn_stand_ins(&self, meta: &ColumnMeta, count: usize) {
        if count == 0 {
            return;
        }
        match self {
            ColumnEncoding::Continuous(_) => tracing::warn!(
                column = %meta.name,
                count,
                "missing values in a column that had none when the transformer was fitted; encoded as typical values"
            ),
            ColumnEncoding::Discrete(_) => tracing::warn!(
                column = %meta.name,
                count,
                "values not seen when the transformer was fitted; encoded as all-zero rows"
            ),
            ColumnEncoding::Key | ColumnEncoding::Ignored => {}
        }
    }

    /// The column's values for a statistical model: numbers or category indices (`None` for
    /// keys and ignored columns).
    pub(super) fn values(
        &self,
        meta: &ColumnMeta,
        column: &Column,
    ) -> Result<Option<ColumnValues>> {
        Ok(match self {
            ColumnEncoding::Continuous(_) => {
                Some(ColumnValues::Numbers(finite_values(meta, column)?))
            }
            ColumnEncoding::Discrete(d) => Some(ColumnValues::Categories(d.indices(meta, column)?)),
            ColumnEncoding::Key | ColumnEncoding::Ignored => None,
        })
    }

    /// [`ColumnEncoding::values`] of a table with gaps to fill: each row's value and whether
    /// it is missing (a missing category the column never had is allowed, as index 0).
    pub(super) fn values_with_gaps(
        &self,
        meta: &ColumnMeta,
        column: &Column,
    ) -> Result<Option<(ColumnValues, Vec<bool>)>> {
        Ok(match self {
            ColumnEncoding::Continuous(_) => {
                let numbers = finite_values(meta, column)?;
                let missing = numbers.iter().map(Option::is_none).collect();
                Some((ColumnValues::Numbers(numbers), missing))
            }
            ColumnEncoding::Discrete(d) => {
                let (indices, missing) = d.indices_and_gaps(meta, column, true)?;
                Some((ColumnValues::Categories(indices), missing))
            }
            ColumnEncoding::Key | ColumnEncoding::Ignored => None,
        })
    }

    /// A category's labels and training counts (discrete columns).
    pub(super) fn categories(&self) -> Option<super::Categories> {
        match self {
            ColumnEncoding::Discrete(d) => Some((
                d.categories
                    .iter()
                    .map(|c| c.clone().unwrap_or_else(|| MISSING_LABEL.into()))
                    .collect(),
                d.counts.clone(),
            )),
            _ => None,
        }
    }

    /// The column of `rows` output rows from `first_row` holding `values` (keys number the
    /// rows, ignored columns are missing).
    pub(super) fn decode_values(
        &self,
        meta: &ColumnMeta,
        values: Option<&ColumnValues>,
        rows: usize,
        first_row: u64,
        enforce_min_max: bool,
    ) -> Result<Column> {
        let series = match (self, values) {
            (ColumnEncoding::Continuous(_), Some(ColumnValues::Numbers(v))) => {
                numbers_column(meta, v.clone(), enforce_min_max)
            }
            (ColumnEncoding::Discrete(d), Some(ColumnValues::Categories(i))) => {
                d.categories_to_series(meta, i)
            }
            (ColumnEncoding::Key, _) => key_column(meta, first_row, rows),
            (ColumnEncoding::Ignored, _) => synth_data::column_dtype(meta)
                .map(|dtype| Series::full_null(meta.name.as_str().into(), rows, &dtype)),
            _ => {
                return Err(TabularError::ValuesMismatch {
                    column: meta.name.clone(),
                });
            }
        };
        output_column(meta, series, first_row)
    }

    /// This encoding with its training statistics removed and its domain replaced by
    /// `domain` (see [`super::DataTransformer::released`]).
    pub(super) fn released(&self, meta: &mut ColumnMeta, domain: &ReleasedDomain) -> Result<Self> {
        meta.missing = 0.0;
        match (self, domain) {
            (ColumnEncoding::Continuous(_), ReleasedDomain::Bounds { min, max }) => {
                (meta.min, meta.max) = (Some(*min), Some(*max));
                // models of column values write missing values without the encoding's
                // present/missing span, so whether the data had any stays unpublished
                Ok(ColumnEncoding::Continuous(ContinuousEncoding {
                    mixture: Mixture::standard(),
                    has_nulls: false,
                    presence_counts: [0, 0],
                }))
            }
            (ColumnEncoding::Discrete(d), ReleasedDomain::Categories(kept)) => {
                let mut categories: Vec<Option<String>> =
                    kept.iter().map(|&i| d.categories[i].clone()).collect();
                if !categories.contains(&None) {
                    categories.push(None);
                }
                Ok(ColumnEncoding::Discrete(DiscreteEncoding {
                    counts: vec![0; categories.len()],
                    categories,
                }))
            }
            _ => Err(TabularError::ValuesMismatch {
                column: meta.name.clone(),
            }),
        }
    }

    /// This encoding for [`super::DataTransformer::released_public`].
    pub(super) fn released_public(&self, meta: &mut ColumnMeta) -> Result<Self> {
        meta.missing = 0.0;
        Ok(match self {
            ColumnEncoding::Continuous(c) => {
                let (Some(min), Some(max)) = (meta.min, meta.max) else {
                    return Err(TabularError::Config(format!(
                        "column `{}` has no public bounds",
                        meta.name
                    )));
                };
                ColumnEncoding::Continuous(ContinuousEncoding {
                    mixture: Mixture::spanning(min, max),
                    has_nulls: c.has_nulls,
                    presence_counts: [0, 0],
                })
            }
            ColumnEncoding::Discrete(d) => ColumnEncoding::Discrete(DiscreteEncoding {
                categories: d.categories.clone(),
                counts: vec![0; d.categories.len()],
            }),
            other => other.clone(),
        })
    }

    /// Decodes one column of rows `first_row..` of the output (keys number the rows).
    pub(super) fn decode(
        &self,
        meta: &ColumnMeta,
        rows: &[&[f32]],
        first_row: u64,
        enforce_min_max: bool,
    ) -> Result<Column> {
        let series = match self {
            ColumnEncoding::Continuous(c) => c.decode(meta, rows, enforce_min_max),
            ColumnEncoding::Discrete(d) => d.decode(meta, rows),
            ColumnEncoding::Key => key_column(meta, first_row, rows.len()),
            ColumnEncoding::Ignored => synth_data::column_dtype(meta)
                .map(|dtype| Series::full_null(meta.name.as_str().into(), rows.len(), &dtype)),
        };
        output_column(meta, series, first_row)
    }
}

/// A decoded column as it is written out: a personal column's pseudonyms become fakes.
fn output_column(
    meta: &ColumnMeta,
    series: PolarsResult<Series>,
    first_row: u64,
) -> Result<Column> {
    let series = match &meta.pii {
        Some(pii) => series.and_then(|tokens| synth_data::pii::fakes(&tokens, pii, first_row)),
        None => series,
    };
    series
        .map(Column::from)
        .map_err(|source| TabularError::Polars {
            column: meta.name.clone(),
            source,
        })
}

/// Mode-specific normalisation of one continuous column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ContinuousEncoding {
    mixture: Mixture,
    /// The column had nulls at fit time: a present/missing span follows the mode span.
    has_nulls: bool,
    /// Numbers of present and missing values at fit time.
    presence_counts: [usize; 2],
}

impl ContinuousEncoding {
    /// Fits the mixture on the column's present values (nulls and NaN are left out of the
    /// fit; they are modelled by the present/missing span).
    pub(super) fn fit(
        meta: &ColumnMeta,
        column: &Column,
        config: &MixtureConfig,
        seed: u64,
    ) -> Result<Self> {
        let values = finite_values(meta, column)?;
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        if present.is_empty() {
            return Err(TabularError::AllMissing {
                column: meta.name.clone(),
            });
        }
        let presence_counts = [present.len(), values.len() - present.len()];
        Ok(ContinuousEncoding {
            mixture: Mixture::fit(&present, config, seed),
            has_nulls: presence_counts[1] > 0,
            presence_counts,
        })
    }

    fn encode(&self, meta: &ColumnMeta, column: &Column, seed: u64) -> Result<(Vec<f32>, usize)> {
        let values = finite_values(meta, column)?;
        let n_modes = self.mixture.n_modes();
        let width = 1 + n_modes + if self.has_nulls { 2 } else { 0 };
        let mut rng = seeded_rng(seed);
        let mut probs = vec![0.0; n_modes];
        let prior = self.mixture.kept_weights();
        let mut out = vec![0.0f32; values.len() * width];
        let mut unexpected_nulls = 0usize;
        for (row, value) in out.chunks_exact_mut(width).zip(&values) {
            let (mode, alpha) = match *value {
                Some(x) => {
                    self.mixture.mode_probabilities(x, &mut probs);
                    let mode = draw(&probs, &mut rng);
                    let (mu, sd) = self.mixture.mode(mode);
                    (mode, ((x - mu) / (4.0 * sd)).clamp(-0.99, 0.99))
                }
                None => {
                    unexpected_nulls += usize::from(!self.has_nulls);
                    (draw(&prior, &mut rng), 0.0)
                }
            };
            row[0] = alpha as f32;
            row[1 + mode] = 1.0;
            if self.has_nulls {
                row[1 + n_modes + usize::from(value.is_none())] = 1.0;
            }
        }
        Ok((out, unexpected_nulls))
    }

    fn decode(
        &self,
        meta: &ColumnMeta,
        rows: &[&[f32]],
        enforce_min_max: bool,
    ) -> PolarsResult<Series> {
        let n_modes = self.mixture.n_modes();
        let values: Vec<Option<f64>> = rows
            .iter()
            .map(|row| {
                if self.has_nulls && row[2 + n_modes] > row[1 + n_modes] {
                    return None;
                }
                let (mu, sd) = self.mixture.mode(argmax(&row[1..1 + n_modes]));
                Some(f64::from(row[0].clamp(-1.0, 1.0)) * 4.0 * sd + mu)
            })
            .collect();
        numbers_column(meta, values, enforce_min_max)
    }
}

/// One-hot encoding of a discrete column; categories in order of first appearance, with
/// missing values as a category of their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct DiscreteEncoding {
    categories: Vec<Option<String>>,
    /// Rows per category at fit time.
    counts: Vec<usize>,
}

impl DiscreteEncoding {
    pub(super) fn fit(meta: &ColumnMeta, column: &Column) -> Result<Self> {
        let mut categories = Vec::new();
        let mut counts: Vec<usize> = Vec::new();
        let mut seen = HashMap::new();
        for label in labels(meta, column)? {
            let index = *seen.entry(label.clone()).or_insert_with(|| {
                categories.push(label);
                counts.push(0);
                categories.len() - 1
            });
            counts[index] += 1;
        }
        Ok(DiscreteEncoding { categories, counts })
    }

    fn encode(&self, meta: &ColumnMeta, column: &Column) -> Result<(Vec<f32>, usize)> {
        let index = self.index();
        let width = self.categories.len();
        let labels = labels(meta, column)?;
        let mut out = vec![0.0f32; labels.len() * width];
        let mut unseen = 0usize;
        for (row, label) in out.chunks_exact_mut(width).zip(&labels) {
            match index.get(label) {
                Some(&i) => row[i] = 1.0,
                None => unseen += 1,
            }
        }
        Ok((out, unseen))
    }

    fn decode(&self, meta: &ColumnMeta, rows: &[&[f32]]) -> PolarsResult<Series> {
        let picked: Vec<usize> = rows.iter().map(|row| argmax(row)).collect();
        self.categories_to_series(meta, &picked)
    }

    /// The column of `meta`'s type holding the categories at `indices`.
    fn categories_to_series(&self, meta: &ColumnMeta, indices: &[usize]) -> PolarsResult<Series> {
        labels_column(meta, indices.iter().map(|&i| self.categories[i].as_deref()))
    }

    /// Each category's position.
    fn index(&self) -> HashMap<&Option<String>, usize> {
        self.categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c, i))
            .collect()
    }

    /// Each row's category index (values unseen at fit time are an error naming the row).
    fn indices(&self, meta: &ColumnMeta, column: &Column) -> Result<Vec<usize>> {
        Ok(self.indices_and_gaps(meta, column, false)?.0)
    }

    /// Each row's category index and whether its value is missing. Values unseen at fit time
    /// are an error naming the row; so is a missing value of a column that had none, unless
    /// `gaps` allows it (its index is then 0, a placeholder for the value to be filled).
    fn indices_and_gaps(
        &self,
        meta: &ColumnMeta,
        column: &Column,
        gaps: bool,
    ) -> Result<(Vec<usize>, Vec<bool>)> {
        let index = self.index();
        let labels = labels(meta, column)?;
        let missing = labels.iter().map(Option::is_none).collect();
        let indices = labels
            .iter()
            .enumerate()
            .map(|(row, label)| match index.get(label) {
                Some(&i) => Ok(i),
                None if gaps && label.is_none() => Ok(0),
                None => Err(TabularError::UnseenCategory {
                    column: meta.name.clone(),
                    row,
                    value: label.clone().unwrap_or_default(),
                }),
            })
            .collect::<Result<_>>()?;
        Ok((indices, missing))
    }
}

/// A discrete column's category labels, `None` for missing cells.
fn labels(meta: &ColumnMeta, column: &Column) -> Result<Vec<Option<String>>> {
    category_labels(meta, column).map_err(|source| TabularError::Polars {
        column: meta.name.clone(),
        source,
    })
}

/// A continuous column's model values (numbers; dates and times as days or seconds), with
/// NaN as missing; an infinite value is an error naming the row.
fn finite_values(meta: &ColumnMeta, column: &Column) -> Result<Vec<Option<f64>>> {
    let values = model_values(meta, column)?;
    if let Some(row) = values.iter().position(|v| v.is_some_and(f64::is_infinite)) {
        return Err(TabularError::Infinite {
            column: meta.name.clone(),
            row,
        });
    }
    Ok(values)
}

/// Index of the largest value (the first on ties).
pub fn argmax(values: &[f32]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

/// Draws an index with probability proportional to `weights`.
fn draw(weights: &[f64], rng: &mut SeededRng) -> usize {
    let mut u = rng.random::<f64>() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        u -= w;
        if u < 0.0 {
            return i;
        }
    }
    weights.len() - 1
}
