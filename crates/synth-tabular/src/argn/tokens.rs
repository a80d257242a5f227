//! Every modelled column as one or two categorical tokens, fitted on the training rows:
//! a discrete column's category; a numeric column's value (fewer than `exact_below` distinct
//! values), or its point mass (a value holding at least 1/`max_bins` of the rows, such as a
//! capital gain of 0), or its quantile bin plus, with `sub_bins > 1`, a second token for the
//! quantile inside the bin. A missing number is a token of its own. Decoding draws a value
//! uniformly, at the column's precision, between the smallest and the largest training value
//! of the (sub-)bin, so a bin that only ever held one value gives that value back.

use super::config::ArgnConfig;
use crate::transform::{ColumnValues, ModelledColumn};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use synth_core::seed::SeededRng;

/// How one modelled column becomes tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ColumnTokens {
    /// A discrete column: the token is the category's index.
    Categories {
        /// Number of categories (missing is one).
        count: usize,
    },
    /// A number with few distinct values: a token per value (after the missing token).
    Values {
        /// Whether token 0 stands for a missing value.
        has_null: bool,
        /// The distinct values, ascending.
        values: Vec<f64>,
    },
    /// A number binned by its quantiles: the missing token, then the point masses, then the
    /// bins; a second token picks the sub-bin.
    Bins {
        /// Whether token 0 stands for a missing value.
        has_null: bool,
        /// Values holding a large share of the rows, ascending: one token each.
        masses: Vec<f64>,
        /// Bin `k` holds `[edges[k], edges[k + 1])` (the last bin includes its end).
        edges: Vec<f64>,
        /// Per bin, its sub-bins: each the smallest and largest training value it held and
        /// the upper edge it encodes up to (the last sub-bin includes the bin's end).
        sub_bins: Vec<Vec<SubBin>>,
    },
}

/// One sub-bin of a numeric bin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SubBin {
    /// Values below this edge (and at or above the previous sub-bin's) fall in it.
    pub below: f64,
    /// Smallest training value it held.
    pub low: f64,
    /// Largest training value it held.
    pub high: f64,
}

/// One categorical variable the network predicts: a column's first or second token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenColumn {
    /// The modelled column it belongs to.
    pub column: usize,
    /// 0 for the column's (first) token, 1 for a binned column's sub-bin.
    pub part: usize,
    /// Number of token values.
    pub vocab: usize,
}

/// The fitted tokenizer of a table's modelled columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tokenizer {
    /// Per modelled column, in table order.
    pub columns: Vec<ColumnTokens>,
    /// With rare-value protection: per token column, the tokens never drawn (a category or
    /// a value held by fewer than [`RARE_ROWS`] training rows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<Vec<u32>>,
}

/// With `protect_rare`, a category or exact value held by fewer training rows is never
/// sampled.
pub const RARE_ROWS: usize = 10;

impl ColumnTokens {
    fn null_tokens(&self) -> usize {
        match self {
            ColumnTokens::Values { has_null, .. } | ColumnTokens::Bins { has_null, .. } => {
                usize::from(*has_null)
            }
            ColumnTokens::Categories { .. } => 0,
        }
    }

    /// The vocabulary of each of the column's tokens.
    fn vocabs(&self) -> Vec<usize> {
        match self {
            ColumnTokens::Categories { count } => vec![*count],
            ColumnTokens::Values { values, .. } => vec![self.null_tokens() + values.len()],
            ColumnTokens::Bins {
                masses, sub_bins, ..
            } => {
                let first = self.null_tokens() + masses.len() + sub_bins.len();
                let widest = sub_bins.iter().map(Vec::len).max().unwrap_or(1);
                if widest > 1 {
                    vec![first, widest]
                } else {
                    vec![first]
                }
            }
        }
    }

    /// The first tokens of the present numbers in `[lo, hi]`: the values and point masses
    /// inside it, the bins reaching into it (none for a discrete column).
    pub fn tokens_within(&self, lo: f64, hi: f64) -> Vec<u32> {
        let nulls = self.null_tokens() as u32;
        let inside = |v: &f64| (lo..=hi).contains(v);
        match self {
            ColumnTokens::Categories { .. } => Vec::new(),
            ColumnTokens::Values { values, .. } => (nulls..)
                .zip(values)
                .filter(|(_, v)| inside(v))
                .map(|(k, _)| k)
                .collect(),
            ColumnTokens::Bins { masses, edges, .. } => {
                let bins = edges
                    .windows(2)
                    .enumerate()
                    .filter(|(_, e)| e[0] <= hi && e[1] >= lo)
                    .map(|(k, _)| nulls + (masses.len() + k) as u32);
                (nulls..)
                    .zip(masses)
                    .filter(|(_, v)| inside(v))
                    .map(|(k, _)| k)
                    .chain(bins)
                    .collect()
            }
        }
    }

    /// The tokens of a present number `x` (`None` when the column cannot hold it: a value
    /// it never took, or one outside its range).
    pub fn number_tokens(&self, x: f64) -> Option<(u32, u32)> {
        let nulls = self.null_tokens();
        match self {
            ColumnTokens::Categories { .. } => None,
            ColumnTokens::Values { values, .. } => values
                .binary_search_by(|v| v.total_cmp(&x))
                .ok()
                .map(|i| ((nulls + i) as u32, 0)),
            ColumnTokens::Bins {
                masses,
                edges,
                sub_bins,
                ..
            } => {
                if let Ok(i) = masses.binary_search_by(|v| v.total_cmp(&x)) {
                    return Some(((nulls + i) as u32, 0));
                }
                let (first, last) = (*edges.first()?, *edges.last()?);
                if !(first..=last).contains(&x) {
                    return None;
                }
                let bins = sub_bins.len();
                let k = edges[1..bins].partition_point(|&e| e <= x);
                let subs = &sub_bins[k];
                let j = subs[..subs.len() - 1].partition_point(|s| s.below <= x);
                Some(((nulls + masses.len() + k) as u32, j as u32))
            }
        }
    }

    /// The value a (first, second) token pair stands for: `None` for the missing token, a
    /// draw inside the bin for a binned number (at `places` decimals when known), within
    /// `range` where the bin reaches past it.
    fn number(
        &self,
        (first, second): (u32, u32),
        places: Option<u32>,
        range: Option<(f64, f64)>,
        rng: &mut SeededRng,
    ) -> Option<f64> {
        let nulls = self.null_tokens();
        let token = (first as usize).checked_sub(nulls)?;
        match self {
            ColumnTokens::Categories { .. } => None,
            ColumnTokens::Values { values, .. } => values.get(token).copied(),
            ColumnTokens::Bins {
                masses, sub_bins, ..
            } => {
                if let Some(&mass) = masses.get(token) {
                    return Some(mass);
                }
                let subs = sub_bins.get(token - masses.len())?;
                let sub = subs[(second as usize).min(subs.len() - 1)];
                let (low, high) = match range {
                    // a sub-bin outside the range (its bin overlaps it) gives the nearest end
                    Some((lo, hi)) => (sub.low.clamp(lo, hi), sub.high.clamp(lo, hi)),
                    None => (sub.low, sub.high),
                };
                Some(draw_between(low, high, places, rng))
            }
        }
    }
}

/// A uniform draw in `[low, high]`, on the grid of `places` decimals when known.
fn draw_between(low: f64, high: f64, places: Option<u32>, rng: &mut SeededRng) -> f64 {
    if high <= low {
        return low;
    }
    match places {
        Some(places) => {
            let scale = 10f64.powi(places as i32);
            let (a, b) = ((low * scale).round(), (high * scale).round());
            if b <= a {
                return low;
            }
            let steps = (b - a) as u64;
            (a + rng.random_range(0..=steps) as f64) / scale
        }
        None => rng.random_range(low..=high),
    }
}

/// The value at quantile `q` of ascending `sorted` (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Strictly increasing edges at the `count`-quantiles of ascending `sorted` (duplicates
/// merged, so heavy values do not make empty bins).
fn quantile_edges(sorted: &[f64], count: usize) -> Vec<f64> {
    let mut edges: Vec<f64> = (0..=count)
        .map(|i| quantile(sorted, i as f64 / count as f64))
        .collect();
    edges.dedup();
    if edges.len() == 1 {
        edges.push(edges[0]);
    }
    edges
}

/// The sub-bins of one bin's ascending training values.
fn fit_sub_bins(values: &[f64], count: usize) -> Vec<SubBin> {
    let edges = quantile_edges(values, count);
    let inner = &edges[1..edges.len() - 1];
    let mut subs: Vec<SubBin> = edges[1..]
        .iter()
        .map(|&below| SubBin {
            below,
            low: f64::INFINITY,
            high: f64::NEG_INFINITY,
        })
        .collect();
    for &v in values {
        let s = &mut subs[inner.partition_point(|&e| e <= v)];
        s.low = s.low.min(v);
        s.high = s.high.max(v);
    }
    // a sub-bin left without a value (possible only at a merged edge) decodes to its edge
    for (i, s) in subs.iter_mut().enumerate() {
        if s.low > s.high {
            (s.low, s.high) = (edges[i], edges[i]);
        }
    }
    subs
}

/// Fits a numeric column's tokens on its present values, ascending.
fn fit_numbers(sorted: &[f64], has_null: bool, config: &ArgnConfig) -> ColumnTokens {
    let mut distinct = sorted.to_vec();
    distinct.dedup();
    if distinct.len() < config.exact_below.max(1) || sorted.is_empty() {
        return ColumnTokens::Values {
            has_null,
            values: distinct,
        };
    }
    // values holding at least 1 / max_bins of the rows are point masses with a token each
    let threshold = (sorted.len() as f64 / config.max_bins as f64).max(2.0);
    let mut masses = Vec::new();
    let mut rest = Vec::with_capacity(sorted.len());
    for run in sorted.chunk_by(|a, b| a == b) {
        if run.len() as f64 >= threshold {
            masses.push(run[0]);
        } else {
            rest.extend_from_slice(run);
        }
    }
    if rest.is_empty() {
        return ColumnTokens::Values {
            has_null,
            values: masses,
        };
    }
    let bins = config.max_bins.saturating_sub(masses.len()).max(1);
    let edges = quantile_edges(&rest, bins);
    let inner = &edges[1..edges.len() - 1];
    let mut per_bin: Vec<Vec<f64>> = vec![Vec::new(); edges.len() - 1];
    for &v in &rest {
        per_bin[inner.partition_point(|&e| e <= v)].push(v);
    }
    let sub_bins = per_bin
        .iter()
        .zip(edges.windows(2))
        .map(|(values, edge)| {
            if values.is_empty() {
                vec![SubBin {
                    below: edge[1],
                    low: edge[0],
                    high: edge[0],
                }]
            } else {
                fit_sub_bins(values, config.sub_bins)
            }
        })
        .collect();
    ColumnTokens::Bins {
        has_null,
        masses,
        edges,
        sub_bins,
    }
}

impl Tokenizer {
    /// Fits the tokens of each modelled column on its training values and returns them
    /// with the rows' tokens (as [`Tokenizer::encode`] writes them). With
    /// `config.protect_rare`, the tokens of values held by fewer than [`RARE_ROWS`] rows are
    /// withheld from sampling, and the lowest and highest bin of a binned number decode to
    /// their inner end (numbers stay within the 1/`max_bins` and 1 - 1/`max_bins` quantiles
    /// of the values outside point masses).
    pub fn fit_encode(
        values: &[ColumnValues],
        columns: &[ModelledColumn],
        config: &ArgnConfig,
    ) -> (Self, Vec<u32>) {
        let mut tokenizer = Self::fit_tokens(values, columns, config);
        let tokens = tokenizer.encode(values, values.first().map_or(0, ColumnValues::rows));
        if config.protect_rare {
            tokenizer.protect(&tokens);
        }
        (tokenizer, tokens)
    }

    /// Withholds the rare tokens of the training rows' `tokens` and clips the extreme bins.
    fn protect(&mut self, tokens: &[u32]) {
        let token_columns = self.token_columns();
        let width = token_columns.len();
        self.withheld = token_columns
            .iter()
            .enumerate()
            .map(|(t, c)| {
                let mut counts = vec![0usize; c.vocab];
                for row in tokens.chunks_exact(width) {
                    counts[row[t] as usize] += 1;
                }
                let exact = c.part == 0
                    && matches!(
                        self.columns[c.column],
                        ColumnTokens::Categories { .. } | ColumnTokens::Values { .. }
                    );
                (0..c.vocab as u32)
                    .filter(|&k| exact && counts[k as usize] < RARE_ROWS)
                    .collect()
            })
            .collect();
        for column in &mut self.columns {
            if let ColumnTokens::Bins { sub_bins, .. } = column
                && sub_bins.len() > 2
            {
                let lowest = sub_bins[0]
                    .iter()
                    .map(|s| s.high)
                    .fold(f64::NEG_INFINITY, f64::max);
                for s in &mut sub_bins[0] {
                    (s.low, s.high) = (lowest, lowest);
                }
                let last = sub_bins.len() - 1;
                let highest = sub_bins[last]
                    .iter()
                    .map(|s| s.low)
                    .fold(f64::INFINITY, f64::min);
                for s in &mut sub_bins[last] {
                    (s.low, s.high) = (highest, highest);
                }
            }
        }
    }

    fn fit_tokens(
        values: &[ColumnValues],
        columns: &[ModelledColumn],
        config: &ArgnConfig,
    ) -> Self {
        let columns = values
            .iter()
            .zip(columns)
            .map(|(values, (_, categories))| match values {
                ColumnValues::Categories(_) => ColumnTokens::Categories {
                    count: categories.as_ref().map_or(1, |(labels, _)| labels.len()),
                },
                ColumnValues::Numbers(numbers) => {
                    let mut sorted: Vec<f64> = numbers.iter().flatten().copied().collect();
                    sorted.sort_by(f64::total_cmp);
                    let has_null = sorted.len() < numbers.len();
                    fit_numbers(&sorted, has_null, config)
                }
            })
            .collect();
        Tokenizer {
            columns,
            withheld: Vec::new(),
        }
    }

    /// The token columns the network predicts, a column's tokens side by side, in table order.
    pub fn token_columns(&self) -> Vec<TokenColumn> {
        self.columns
            .iter()
            .enumerate()
            .flat_map(|(column, c)| {
                c.vocabs()
                    .into_iter()
                    .enumerate()
                    .map(move |(part, vocab)| TokenColumn {
                        column,
                        part,
                        vocab,
                    })
            })
            .collect()
    }

    /// The rows' tokens, row-major (one per token column).
    pub fn encode(&self, values: &[ColumnValues], rows: usize) -> Vec<u32> {
        self.encode_cells(values, rows, |_, _| false)
            .expect("a training value has its tokens")
    }

    /// [`Tokenizer::encode`] of a table's cells, leaving token 0 where `skip(column, row)`
    /// (a missing cell to fill); a number no token holds (outside the training range, or a
    /// value a few-valued column never took) is returned as `(column, row, value)`.
    pub fn encode_cells(
        &self,
        values: &[ColumnValues],
        rows: usize,
        skip: impl Fn(usize, usize) -> bool,
    ) -> Result<Vec<u32>, (usize, usize, f64)> {
        let width = self.token_columns().len();
        let mut tokens = vec![0u32; rows * width];
        let mut at = 0;
        for (j, (column, values)) in self.columns.iter().zip(values).enumerate() {
            let parts = column.vocabs().len();
            for row in (0..rows).filter(|&row| !skip(j, row)) {
                let (first, second) = match values {
                    ColumnValues::Categories(c) => (c[row] as u32, 0),
                    ColumnValues::Numbers(n) => match n[row] {
                        None => (0, 0),
                        Some(x) => column.number_tokens(x).ok_or((j, row, x))?,
                    },
                };
                tokens[row * width + at] = first;
                if parts > 1 {
                    tokens[row * width + at + 1] = second;
                }
            }
            at += parts;
        }
        Ok(tokens)
    }

    /// The columns' values of `rows` rows of tokens (row-major, as [`Tokenizer::encode`]
    /// writes them); numbers inside a bin are drawn from `rng` at each column's `places`,
    /// within its range in `ranges` when it has one (`ranges` may be empty: none).
    pub fn decode(
        &self,
        tokens: &[u32],
        rows: usize,
        places: &[Option<u32>],
        ranges: &[Option<(f64, f64)>],
        rng: &mut SeededRng,
    ) -> Vec<ColumnValues> {
        let width = self.token_columns().len();
        let mut at = 0;
        let mut out = Vec::with_capacity(self.columns.len());
        for (j, (column, places)) in self.columns.iter().zip(places).enumerate() {
            let range = ranges.get(j).copied().flatten();
            let parts = column.vocabs().len();
            let token = |row: usize, part: usize| {
                if part < parts {
                    tokens[row * width + at + part]
                } else {
                    0
                }
            };
            out.push(match column {
                ColumnTokens::Categories { .. } => {
                    ColumnValues::Categories((0..rows).map(|r| token(r, 0) as usize).collect())
                }
                _ => ColumnValues::Numbers(
                    (0..rows)
                        .map(|r| column.number((token(r, 0), token(r, 1)), *places, range, rng))
                        .collect(),
                ),
            });
            at += parts;
        }
        out
    }

    /// Checks a loaded tokenizer against the transformer's modelled columns; the message
    /// names the column.
    pub fn check(&self, columns: &[ModelledColumn]) -> Result<(), String> {
        let token_columns = self.token_columns();
        let withheld_ok = self.withheld.is_empty()
            || (self.withheld.len() == token_columns.len()
                && self
                    .withheld
                    .iter()
                    .zip(&token_columns)
                    .all(|(w, c)| w.iter().all(|&k| (k as usize) < c.vocab)));
        if !withheld_ok {
            return Err("the withheld tokens do not match the token columns".into());
        }
        if self.columns.len() != columns.len() {
            return Err(format!(
                "{} token columns for {} modelled columns",
                self.columns.len(),
                columns.len()
            ));
        }
        for (tokens, (meta, categories)) in self.columns.iter().zip(columns) {
            let fail = |why: &str| Err(format!("column `{}`: {why}", meta.name));
            let ascending =
                |v: &[f64]| v.iter().all(|x| x.is_finite()) && v.windows(2).all(|w| w[0] < w[1]);
            match (tokens, categories) {
                (ColumnTokens::Categories { count }, Some((labels, _))) => {
                    if *count != labels.len() {
                        return fail("its token count differs from its categories");
                    }
                }
                (ColumnTokens::Values { values, .. }, None) => {
                    if !ascending(values) {
                        return fail("its values are not finite and ascending");
                    }
                }
                (
                    ColumnTokens::Bins {
                        masses,
                        edges,
                        sub_bins,
                        ..
                    },
                    None,
                ) => {
                    let edges_ok = edges.len() >= 2
                        && edges.iter().all(|x| x.is_finite())
                        && edges.windows(2).all(|w| w[0] <= w[1])
                        && sub_bins.len() == edges.len() - 1;
                    let subs_ok = sub_bins.iter().all(|subs| {
                        !subs.is_empty()
                            && subs.iter().all(|s| {
                                s.low.is_finite()
                                    && s.high.is_finite()
                                    && s.below.is_finite()
                                    && s.low <= s.high
                            })
                    });
                    if !ascending(masses) || !edges_ok || !subs_ok {
                        return fail("its bins are not finite, ascending and one set per bin");
                    }
                }
                _ => return fail("its kind differs from the transformer's"),
            }
            if tokens.vocabs().iter().any(|&v| v == 0 || v > 1 << 20) {
                return fail("a token has no value or more than 2^20");
            }
        }
        Ok(())
    }
}
