//! The reversible table encoding shared by CTGAN and TVAE (spec section 1): mode-specific
//! normalisation of continuous columns with a variational Gaussian mixture, one-hot discrete
//! columns, a present/missing span for continuous columns with nulls, and decoding back to a
//! polars DataFrame with the original column names, order and dtypes.

pub(crate) mod column;
pub mod vgmm;

pub use column::{ColumnValues, argmax};

use crate::{Result, TabularError};
use column::{ColumnEncoding, ContinuousEncoding, DiscreteEncoding};
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use synth_core::seed::derive_seed;
use synth_core::{ColumnKind, ColumnMeta, ConfigError, Span, TableMeta, Validate};
pub use vgmm::{Mixture, MixtureConfig};

/// Settings of the transformer (the `[transformer]` config section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformerConfig {
    /// The mixture fit of continuous columns.
    #[serde(flatten)]
    pub mixture: MixtureConfig,
    /// Clamp decoded continuous values to the training min/max.
    pub enforce_min_max: bool,
}

impl Default for TransformerConfig {
    fn default() -> Self {
        TransformerConfig {
            mixture: MixtureConfig::default(),
            enforce_min_max: true,
        }
    }
}

/// Checked on its own: the mixture fit's settings.
impl Validate for TransformerConfig {
    type Context = ();

    fn check(&self, context: &()) -> Result<(), ConfigError> {
        self.mixture.check(context)
    }
}

/// A discrete column's category labels (the empty label is missing) and training counts.
pub type Categories = (Vec<String>, Vec<usize>);

/// A modelled column as statistical models see it: its metadata, and its categories when
/// discrete.
pub type ModelledColumn = (ColumnMeta, Option<Categories>);

/// A modelled column's domain as a differentially private model releases it.
#[derive(Debug, Clone, PartialEq)]
pub enum ReleasedDomain {
    /// A continuous column's bounds.
    Bounds {
        /// The lowest value.
        min: f64,
        /// The highest value.
        max: f64,
    },
    /// A discrete column's released categories: indices into its fitted categories.
    Categories(Vec<usize>),
}

/// A table encoded as a dense row-major `rows x width` matrix of `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedTable {
    /// Row-major values.
    pub data: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
    /// Encoded width (sum of span widths).
    pub width: usize,
}

/// Rows encoded together by one thread: large enough to amortise the per-run set-up,
/// small enough that a run's column blocks stay a few MiB.
pub const ENCODE_CHUNK_ROWS: usize = 16_384;

/// The widest encoded row a transformer may describe (one value per continuous column and
/// mode, one per category): far above any real table (Adult encodes to about 150 values), low
/// enough that a damaged file cannot size a network beyond memory.
pub const MAX_ENCODED_WIDTH: usize = 1 << 20;

/// A one-hot span that the conditional vector covers: a discrete column, or the
/// present/missing indicator of a continuous column with nulls.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionSpan {
    /// Column name (the indicator of column `x` is reported as `x`).
    pub column: String,
    /// First encoded column of the span in the data matrix.
    pub data_offset: usize,
    /// Category labels, in one-hot order.
    pub labels: Vec<String>,
    /// Training rows per category.
    pub counts: Vec<usize>,
}

/// A fitted transformer: one encoding per modelled column, in table order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataTransformer {
    columns: Vec<ColumnTransform>,
    enforce_min_max: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ColumnTransform {
    meta: ColumnMeta,
    encoding: ColumnEncoding,
}

impl DataTransformer {
    /// Fits every column of `meta` on `df`, in parallel, each from its own derived seed.
    pub fn fit(
        df: &DataFrame,
        meta: &TableMeta,
        config: &TransformerConfig,
        seed: u64,
    ) -> Result<Self> {
        let columns = meta
            .columns
            .par_iter()
            .enumerate()
            .map(|(i, meta)| {
                let encoding = match meta.kind {
                    ColumnKind::Continuous => ColumnEncoding::Continuous(ContinuousEncoding::fit(
                        meta,
                        source_column(df, &meta.name)?,
                        &config.mixture,
                        derive_seed(seed, "transformer.fit", i as u64),
                    )?),
                    ColumnKind::Discrete => ColumnEncoding::Discrete(DiscreteEncoding::fit(
                        meta,
                        source_column(df, &meta.name)?,
                    )?),
                    ColumnKind::Key => ColumnEncoding::Key,
                    ColumnKind::Ignored => ColumnEncoding::Ignored,
                };
                Ok(ColumnTransform {
                    meta: meta.clone(),
                    encoding,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DataTransformer {
            columns,
            enforce_min_max: config.enforce_min_max,
        })
    }

    /// The output spans, in encoded-column order.
    pub fn spans(&self) -> Vec<Span> {
        self.columns
            .iter()
            .flat_map(|c| c.encoding.spans())
            .collect()
    }

    /// Width of the encoded matrix.
    pub fn width(&self) -> usize {
        self.spans().iter().map(|s| s.width).sum()
    }

    /// The column metadata the transformer was fitted with.
    pub fn meta(&self) -> TableMeta {
        TableMeta {
            columns: self.columns.iter().map(|c| c.meta.clone()).collect(),
        }
    }

    /// The one-hot spans covered by CTGAN's conditional vector, in encoded order.
    pub fn condition_spans(&self) -> Vec<ConditionSpan> {
        let mut offset = 0;
        let mut out = Vec::new();
        for c in &self.columns {
            if let Some((start, labels, counts)) = c.encoding.condition_labels() {
                out.push(ConditionSpan {
                    column: c.meta.name.clone(),
                    data_offset: offset + start,
                    labels,
                    counts,
                });
            }
            offset += c.encoding.width();
        }
        out
    }

    /// Encodes the modelled columns of `df` (which must have them, with compatible types).
    /// Mode draws come from `seed`; values unseen at fit time become all-zero one-hot rows.
    /// Runs of [`ENCODE_CHUNK_ROWS`] rows are encoded in parallel straight into the matrix,
    /// each column of each run from its own derived seed, so the result does not depend on
    /// thread scheduling and memory holds the matrix plus one run per thread.
    pub fn encode(&self, df: &DataFrame, seed: u64) -> Result<EncodedTable> {
        let rows = df.height();
        let width = self.width();
        let modelled: Vec<(usize, &ColumnTransform, &Column)> = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.meta.kind.is_modelled())
            .map(|(i, c)| Ok((i, c, source_column(df, &c.meta.name)?)))
            .collect::<Result<_>>()?;
        let mut data = vec![0.0f32; rows * width];
        let stand_ins = data
            .par_chunks_mut((ENCODE_CHUNK_ROWS * width).max(1))
            .enumerate()
            .map(|(chunk, out)| {
                let start = chunk * ENCODE_CHUNK_ROWS;
                let len = out.len() / width.max(1);
                let mut offset = 0;
                let mut stand_ins = Vec::with_capacity(modelled.len());
                for &(i, c, column) in &modelled {
                    let column_seed = derive_seed(seed, "transformer.encode", i as u64);
                    let (block, odd) = c
                        .encoding
                        .encode(
                            &c.meta,
                            &column.slice(start as i64, len),
                            derive_seed(column_seed, "chunk", chunk as u64),
                        )
                        .map_err(|e| e.at_row_offset(start))?;
                    let w = c.encoding.width();
                    for (r, values) in block.chunks_exact(w).enumerate() {
                        out[r * width + offset..][..w].copy_from_slice(values);
                    }
                    offset += w;
                    stand_ins.push(odd);
                }
                Ok(stand_ins)
            })
            .collect::<Result<Vec<Vec<usize>>>>()?;
        for (k, &(_, c, _)) in modelled.iter().enumerate() {
            c.encoding
                .warn_stand_ins(&c.meta, stand_ins.iter().map(|s| s[k]).sum());
        }
        Ok(EncodedTable { data, rows, width })
    }

    /// Decodes an encoded matrix (e.g. generator output after activations) into a DataFrame
    /// with the fitted columns' names, order and dtypes; `first_row` is the position of its
    /// first row in the whole output, from which key columns number their values.
    pub fn decode(&self, table: &EncodedTable, first_row: u64) -> Result<DataFrame> {
        if table.width != self.width() || table.data.len() != table.rows * table.width {
            return Err(TabularError::WidthMismatch {
                expected: self.width(),
                found: table.width,
            });
        }
        let mut offset = 0;
        let mut spans = Vec::with_capacity(self.columns.len());
        for c in &self.columns {
            spans.push(offset);
            offset += c.encoding.width();
        }
        let columns = self
            .columns
            .par_iter()
            .zip(spans)
            .map(|(c, start)| {
                let block: Vec<&[f32]> = (0..table.rows)
                    .map(|r| {
                        &table.data
                            [r * table.width + start..r * table.width + start + c.encoding.width()]
                    })
                    .collect();
                c.encoding
                    .decode(&c.meta, &block, first_row, self.enforce_min_max)
            })
            .collect::<Result<Vec<_>>>()?;
        DataFrame::new(table.rows, columns).map_err(|source| TabularError::Polars {
            column: "(decoded table)".into(),
            source,
        })
    }

    /// The modelled columns' values in `df`, in table order: what statistical models are
    /// fitted on (keys and ignored columns are left out).
    pub fn values(&self, df: &DataFrame) -> Result<Vec<ColumnValues>> {
        self.read_modelled(df, ColumnEncoding::values)
    }

    /// The modelled columns' values in `df` as [`DataTransformer::values`] reads them, with
    /// each row's missing flag: the gaps an imputation fills (a discrete column may miss a
    /// value here even if it never did in training).
    pub fn values_with_gaps(&self, df: &DataFrame) -> Result<Vec<(ColumnValues, Vec<bool>)>> {
        self.read_modelled(df, ColumnEncoding::values_with_gaps)
    }

    /// `read` applied to each modelled column of `df` (in parallel), in table order.
    fn read_modelled<T: Send>(
        &self,
        df: &DataFrame,
        read: impl Fn(&ColumnEncoding, &ColumnMeta, &Column) -> Result<Option<T>> + Sync,
    ) -> Result<Vec<T>> {
        self.columns
            .par_iter()
            .filter(|c| c.meta.kind.is_modelled())
            .map(|c| {
                let column = source_column(df, &c.meta.name)?;
                Ok(read(&c.encoding, &c.meta, column)?.expect("a modelled column"))
            })
            .collect()
    }

    /// Each modelled column's metadata, with a discrete column's category labels (the empty
    /// label is missing) and training counts: the layout [`DataTransformer::values`] follows.
    pub fn modelled_columns(&self) -> Vec<ModelledColumn> {
        self.columns
            .iter()
            .filter(|c| c.meta.kind.is_modelled())
            .map(|c| (c.meta.clone(), c.encoding.categories()))
            .collect()
    }

    /// The transformer a differentially private model may publish: the column codec with
    /// every training statistic removed (category and presence counts zero, missing shares
    /// zero, a continuous column's mixture one standard mode) and each modelled column's
    /// domain replaced by `domains` (in modelled order): a continuous column's bounds, a
    /// discrete column's released categories (indices into the fitted ones), followed by the
    /// missing label when it is not among them, so that rows of a category that was not
    /// released can be written as missing. Column names, kinds, types, formats and key shapes
    /// are the schema, kept as they are.
    pub fn released(&self, domains: &[ReleasedDomain]) -> Result<DataTransformer> {
        let mut domains = domains.iter();
        let columns = self
            .columns
            .iter()
            .map(|c| {
                let mut meta = c.meta.clone();
                let encoding = if meta.kind.is_modelled() {
                    let domain = domains.next().ok_or_else(|| TabularError::ValuesMismatch {
                        column: meta.name.clone(),
                    })?;
                    c.encoding.released(&mut meta, domain)?
                } else {
                    c.encoding.clone()
                };
                Ok(ColumnTransform { meta, encoding })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DataTransformer {
            columns,
            enforce_min_max: true,
        })
    }

    /// The transformer a differentially private model trained on the encoding (DP-SGD) may
    /// publish, for columns whose domains are all public: every training statistic removed
    /// (counts zero), and each continuous column's mixture replaced by one mode spanning its
    /// public bounds (so the encoding no longer depends on the rows); whether a column has
    /// missing values is part of its public domain and kept.
    pub fn released_public(&self) -> Result<DataTransformer> {
        let columns = self
            .columns
            .iter()
            .map(|c| {
                let mut meta = c.meta.clone();
                let encoding = c.encoding.released_public(&mut meta)?;
                Ok(ColumnTransform { meta, encoding })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DataTransformer {
            columns,
            enforce_min_max: true,
        })
    }

    /// The table of `rows` rows holding `values` (one per modelled column, in the order of
    /// [`DataTransformer::values`]), with every column in the fitted names, order and types;
    /// `first_row` numbers key columns as in [`DataTransformer::decode`].
    pub fn decode_values(
        &self,
        values: &[ColumnValues],
        rows: usize,
        first_row: u64,
    ) -> Result<DataFrame> {
        let mut next = values.iter();
        let paired: Vec<(&ColumnTransform, Option<&ColumnValues>)> = self
            .columns
            .iter()
            .map(|c| {
                (
                    c,
                    if c.meta.kind.is_modelled() {
                        next.next()
                    } else {
                        None
                    },
                )
            })
            .collect();
        let columns = paired
            .par_iter()
            .map(|(c, v)| {
                c.encoding
                    .decode_values(&c.meta, *v, rows, first_row, self.enforce_min_max)
            })
            .collect::<Result<Vec<_>>>()?;
        DataFrame::new(rows, columns).map_err(|source| TabularError::Polars {
            column: "(decoded table)".into(),
            source,
        })
    }

    /// Serialises the fitted transformer as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("transformer serialises to JSON")
    }

    /// Loads a transformer saved by [`DataTransformer::to_json`], checked with
    /// [`DataTransformer::check`].
    pub fn from_json(text: &str) -> Result<Self> {
        Self::parse(text, None)
    }

    fn parse(text: &str, path: Option<&Path>) -> Result<Self> {
        let transformer: Self =
            serde_json::from_str(text).map_err(|source| TabularError::Json {
                path: path.map(Path::to_path_buf),
                source,
            })?;
        transformer
            .check()
            .map_err(|message| TabularError::InvalidTransformer {
                path: path.map(Path::to_path_buf),
                message,
            })?;
        Ok(transformer)
    }

    /// Checks a transformer read from a file, so that a damaged or hand-edited one is refused
    /// before it sizes a network or decodes a row: at least one column, unique names, finite
    /// bounds, both or neither, with `min <= max`, an encoding of the column's kind (a mixture with matching,
    /// finite parameters and valid kept modes; distinct categories with a count each), and an
    /// encoded width of at most [`MAX_ENCODED_WIDTH`].
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.columns.is_empty() {
            return Err("it describes no columns".into());
        }
        let mut names = std::collections::HashSet::new();
        for c in &self.columns {
            let meta = &c.meta;
            let fail = |message: String| format!("column `{}`: {message}", meta.name);
            if !names.insert(meta.name.as_str()) {
                return Err(fail("listed twice".into()));
            }
            if [meta.min, meta.max]
                .iter()
                .flatten()
                .any(|v| !v.is_finite())
            {
                return Err(fail("a bound is not a finite number".into()));
            }
            match (meta.min, meta.max) {
                (Some(min), Some(max)) if min > max => {
                    return Err(fail(format!("min {min} is above max {max}")));
                }
                (Some(_), None) | (None, Some(_)) => {
                    return Err(fail(
                        "it has one bound; give both min and max, or neither".into(),
                    ));
                }
                _ => {}
            }
            if meta.decimals.is_some_and(|d| d > synth_core::MAX_DECIMALS) {
                let max = synth_core::MAX_DECIMALS;
                return Err(fail(format!("decimals is above {max}")));
            }
            if let Some(format) = &meta.format
                && synth_data::temporal::format_dtype(format) != Ok(meta.dtype)
            {
                return Err(fail(format!(
                    "format `{format}` does not describe its type {}",
                    meta.dtype.name()
                )));
            }
            if !(0.0..=1.0).contains(&meta.missing) {
                return Err(fail(format!(
                    "missing share {} is not in [0, 1]",
                    meta.missing
                )));
            }
            c.encoding.check(meta).map_err(fail)?;
        }
        let width: usize = self.columns.iter().map(|c| c.encoding.width()).sum();
        if width > MAX_ENCODED_WIDTH {
            return Err(format!(
                "its encoded width {width} is above the limit of {MAX_ENCODED_WIDTH}"
            ));
        }
        Ok(())
    }

    /// Writes `transformer.json`-style output to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_json()).map_err(|source| TabularError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a transformer from `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| TabularError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, Some(path))
    }
}

fn source_column<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(|_| TabularError::MissingColumn {
        column: name.to_string(),
    })
}

#[cfg(test)]
mod tests;
