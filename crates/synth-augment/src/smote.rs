//! SMOTE-NC (Chawla et al. 2002, "SMOTE: Synthetic Minority Over-sampling Technique",
//! section 6.1): new rows of a class interpolated between a row of the class and one of its
//! k nearest neighbours within the class.
//!
//! - Distance: Euclidean over the continuous columns, plus `Med^2` for every discrete column
//!   on which two rows differ, `Med` being the median of the continuous columns' standard
//!   deviations within the class. One departure from the paper, as its users are told to
//!   do: each continuous column is first divided by its standard deviation within the class,
//!   so that a column in large units (a weight in the 100,000s) does not decide the
//!   neighbours alone; `Med` is then 1 (0 when every continuous column is constant; with no
//!   continuous column the distance counts differing categories).
//! - Numbers: `x + gap * (neighbour - x)` with one `gap` drawn uniformly from [0, 1) per new
//!   row, rounded to the column's decimal places; dates and times likewise as days or seconds.
//! - Categories: the value most of the row's k neighbours hold (ties go to the value of the
//!   nearest of the tied neighbours).
//! - Missing values (not covered by the paper): a missing number counts as the class's median
//!   in distances; a new row's number is missing where its base row's is, and is the base
//!   row's value where only the neighbour's is missing. A missing category is a category.
//!
//! The neighbours are found by brute force (every pair of the class's rows, on all cores):
//! fine for the few thousand rows a rare class has; quadratic in the class's size.

use crate::{AugmentError, Result};
use polars::prelude::*;
use rand::RngExt;
use rayon::prelude::*;
use std::collections::HashMap;
use synth_core::seed::seeded_rng;
use synth_core::{ColumnKind, ColumnMeta, TableMeta, round_to};
use synth_data::{OnUnparseable, numeric_values, polars_dtype, temporal_column, temporal_values};

/// `n` new rows of the class held by `class_rows` of `table` (column kinds from `meta`), each
/// interpolated towards one of the row's `neighbours` nearest rows of the class, drawn from
/// `seed`. Columns come back in the table's order; numbers in `meta`'s type, categories in
/// the table's, key and ignored columns missing.
pub fn oversample(
    table: &DataFrame,
    meta: &TableMeta,
    class_rows: &[usize],
    n: usize,
    neighbours: usize,
    seed: u64,
) -> Result<DataFrame> {
    if neighbours == 0 {
        return Err(AugmentError::NoNeighbours);
    }
    if class_rows.len() < 2 {
        return Err(AugmentError::TooFewRows {
            rows: class_rows.len(),
        });
    }
    let index: Vec<IdxSize> = class_rows.iter().map(|&i| i as IdxSize).collect();
    let mut continuous = Vec::new();
    let mut discrete = Vec::new();
    let mut columns = Vec::new();
    for column in table.columns() {
        let name = column.name().as_str();
        let kind = meta.column(name).map_or(ColumnKind::Ignored, |c| c.kind);
        let polars_err = |source| AugmentError::Polars {
            column: name.to_string(),
            source,
        };
        let rows = column.take_slice(&index).map_err(polars_err)?;
        let source = match (kind, meta.column(name)) {
            (ColumnKind::Continuous, Some(m)) => {
                continuous.push(class_numbers(&rows, m, class_rows)?);
                Source::Continuous(m, continuous.len() - 1)
            }
            (ColumnKind::Discrete, _) => {
                discrete.push(codes(&rows).map_err(polars_err)?);
                Source::Discrete(rows, discrete.len() - 1)
            }
            _ => Source::Missing(column),
        };
        columns.push(source);
    }
    let points = Points::new(&continuous, &discrete);
    let nearest = points.nearest_neighbours(neighbours);
    let new_rows = draw_new_rows(&nearest, n, seed);
    let out = columns
        .into_iter()
        .map(|source| match source {
            Source::Continuous(m, c) => {
                let values: Vec<Option<f64>> = new_rows
                    .iter()
                    .map(|r| {
                        let x =
                            interpolate(continuous[c][r.base], continuous[c][r.neighbour], r.gap);
                        x.map(|x| m.places().map_or(x, |p| round_to(x, p)))
                    })
                    .collect();
                let series = if m.dtype.is_temporal() {
                    temporal_column(m, &values)
                } else {
                    Series::new(m.name.as_str().into(), values).cast(&polars_dtype(m.dtype))
                };
                series
                    .map(Column::from)
                    .map_err(|source| AugmentError::Polars {
                        column: m.name.clone(),
                        source,
                    })
            }
            Source::Discrete(rows, d) => {
                // each base row's vote, taken from the neighbour that holds the winning value
                let voted: Vec<IdxSize> = new_rows
                    .iter()
                    .map(|r| {
                        let around = &nearest[r.base];
                        around[majority(around, |p| discrete[d][p])] as IdxSize
                    })
                    .collect();
                rows.take_slice(&voted)
                    .map_err(|source| AugmentError::Polars {
                        column: rows.name().to_string(),
                        source,
                    })
            }
            Source::Missing(column) => {
                Ok(Column::full_null(column.name().clone(), n, column.dtype()))
            }
        })
        .collect::<Result<Vec<Column>>>()?;
    DataFrame::new(n, out).map_err(|source| AugmentError::Polars {
        column: "(all)".into(),
        source,
    })
}

/// Where a new row's column comes from.
enum Source<'a> {
    /// Interpolated numbers: the column's description and its index among the numbers.
    Continuous(&'a ColumnMeta, usize),
    /// Voted categories: the class's rows of the column and its index among the categories.
    Discrete(Column, usize),
    /// Keys and ignored columns: missing.
    Missing(&'a Column),
}

/// A continuous column's values on the class's rows (days or seconds for dates and times);
/// an infinite number is an error naming its row in the table.
fn class_numbers(
    rows: &Column,
    meta: &ColumnMeta,
    class_rows: &[usize],
) -> Result<Vec<Option<f64>>> {
    let values = if meta.dtype.is_temporal() {
        temporal_values(rows, meta, OnUnparseable::Missing)?
    } else {
        numeric_values(rows).map_err(|source| AugmentError::Polars {
            column: meta.name.clone(),
            source,
        })?
    };
    if let Some(i) = values.iter().position(|v| v.is_some_and(f64::is_infinite)) {
        return Err(AugmentError::Infinite {
            column: meta.name.clone(),
            row: class_rows[i],
        });
    }
    Ok(values)
}

/// Codes of a discrete column's values in order of first appearance (missing is a value).
fn codes(column: &Column) -> PolarsResult<Vec<u32>> {
    let text = column.cast(&DataType::String)?;
    let mut book: HashMap<Option<&str>, u32> = HashMap::new();
    Ok(text
        .str()?
        .iter()
        .map(|v| {
            let next = book.len() as u32;
            *book.entry(v).or_insert(next)
        })
        .collect())
}

/// The rows of a class as points to measure distances between.
#[derive(Debug, Clone, PartialEq)]
pub struct Points {
    len: usize,
    /// Row-major: each point's continuous coordinates, scaled and with missing values filled.
    coordinates: Vec<f64>,
    continuous: usize,
    /// Row-major: each point's category codes.
    codes: Vec<u32>,
    discrete: usize,
    /// The distance added per differing category: `Med^2`.
    category_penalty: f64,
}

impl Points {
    /// Points from the class's values: `continuous[c][i]` is continuous column `c` of row `i`
    /// (`None` when missing), `discrete[d][i]` the code of discrete column `d` of row `i`.
    pub fn new(continuous: &[Vec<Option<f64>>], discrete: &[Vec<u32>]) -> Self {
        let len = continuous
            .first()
            .map(Vec::len)
            .or_else(|| discrete.first().map(Vec::len))
            .unwrap_or(0);
        let mut coordinates = vec![0.0; len * continuous.len()];
        let mut deviations = Vec::with_capacity(continuous.len());
        for (c, values) in continuous.iter().enumerate() {
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            let sd = standard_deviation(&present);
            let scale = if sd > 0.0 { 1.0 / sd } else { 1.0 };
            deviations.push(if sd > 0.0 { 1.0 } else { 0.0 });
            let fill = median(&present).unwrap_or(0.0);
            for (i, value) in values.iter().enumerate() {
                coordinates[i * continuous.len() + c] = value.unwrap_or(fill) * scale;
            }
        }
        let mut codes = vec![0; len * discrete.len()];
        for (d, column) in discrete.iter().enumerate() {
            for (i, &code) in column.iter().enumerate() {
                codes[i * discrete.len() + d] = code;
            }
        }
        let med = if continuous.is_empty() {
            1.0
        } else {
            median(&deviations).unwrap_or(0.0)
        };
        Points {
            len,
            coordinates,
            continuous: continuous.len(),
            codes,
            discrete: discrete.len(),
            category_penalty: med * med,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Squared SMOTE-NC distance between points `a` and `b`.
    pub fn distance(&self, a: usize, b: usize) -> f64 {
        let (ca, cb) = (self.row(a), self.row(b));
        let numbers: f64 = ca.iter().zip(cb).map(|(x, y)| (x - y) * (x - y)).sum();
        let (da, db) = (
            &self.codes[a * self.discrete..(a + 1) * self.discrete],
            &self.codes[b * self.discrete..(b + 1) * self.discrete],
        );
        let differing = da.iter().zip(db).filter(|(x, y)| x != y).count();
        numbers + differing as f64 * self.category_penalty
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.coordinates[i * self.continuous..(i + 1) * self.continuous]
    }

    /// Each point's `k` nearest other points, nearest first (ties by position).
    pub fn nearest_neighbours(&self, k: usize) -> Vec<Vec<usize>> {
        (0..self.len)
            .into_par_iter()
            .map(|i| {
                let mut others: Vec<(f64, usize)> = (0..self.len)
                    .filter(|&j| j != i)
                    .map(|j| (self.distance(i, j), j))
                    .collect();
                let k = k.min(others.len());
                let by_distance =
                    |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                if k < others.len() {
                    others.select_nth_unstable_by(k, by_distance);
                    others.truncate(k);
                }
                others.sort_by(by_distance);
                others.into_iter().map(|(_, j)| j).collect()
            })
            .collect()
    }
}

/// The position in `neighbours` (nearest first) of a neighbour holding the category most of
/// them hold: the nearest such one when several categories tie.
pub fn majority(neighbours: &[usize], code_of: impl Fn(usize) -> u32) -> usize {
    let codes: Vec<u32> = neighbours.iter().map(|&n| code_of(n)).collect();
    let count = |code: u32| codes.iter().filter(|&&c| c == code).count();
    let most = codes.iter().map(|&c| count(c)).max().unwrap_or(0);
    codes.iter().position(|&c| count(c) == most).unwrap_or(0)
}

/// A new row: between point `base` and its neighbour `neighbour`, at `gap` of the way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewRow {
    /// The class row it starts from.
    pub base: usize,
    /// The neighbour it moves towards.
    pub neighbour: usize,
    /// How far along, in [0, 1).
    pub gap: f64,
}

/// `n` new rows: a base point drawn uniformly (with replacement), one of its neighbours
/// drawn uniformly, and a uniform gap, all from `seed`.
pub fn draw_new_rows(neighbours: &[Vec<usize>], n: usize, seed: u64) -> Vec<NewRow> {
    let mut rng = seeded_rng(seed);
    (0..n)
        .map(|_| {
            let base = rng.random_range(0..neighbours.len());
            let choices = &neighbours[base];
            let neighbour = choices[rng.random_range(0..choices.len())];
            NewRow {
                base,
                neighbour,
                gap: rng.random::<f64>(),
            }
        })
        .collect()
}

/// A number between the base row's and the neighbour's (see the module notes on missing
/// values).
pub fn interpolate(base: Option<f64>, neighbour: Option<f64>, gap: f64) -> Option<f64> {
    let x = base?;
    Some(neighbour.map_or(x, |y| x + gap * (y - x)))
}

/// Population standard deviation (0 for fewer than two values).
fn standard_deviation(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64;
    var.sqrt()
}

/// The median (mean of the middle two for an even count), `None` when empty.
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four rows of a class, one number and one category; distances worked by hand.
    fn points() -> Points {
        // x = 0, 2, 4, 8: mean 3.5, population variance (12.25 + 2.25 + 0.25 + 20.25) / 4
        // = 8.75, sd 2.958; Med = 1 after scaling, so a differing category adds 1.
        let x = vec![Some(0.0), Some(2.0), Some(4.0), Some(8.0)];
        let c = vec![0, 1, 0, 0];
        Points::new(&[x], &[c])
    }

    #[test]
    fn distances_scale_numbers_and_charge_med_squared_per_category() {
        let p = points();
        let sd = 8.75f64.sqrt();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // rows 0 and 2: (4 / sd)^2, same category
        assert!(close(p.distance(0, 2), 16.0 / (sd * sd)));
        // rows 0 and 1: (2 / sd)^2 + 1 for the differing category
        assert!(close(p.distance(0, 1), 4.0 / (sd * sd) + 1.0));
        assert!(close(p.distance(1, 0), p.distance(0, 1)));
    }

    #[test]
    fn nearest_neighbours_by_hand() {
        let p = points();
        // Squared distances times 8.75: from 0: row1 4+8.75, row2 16, row3 64.
        // From 1: row0 4+8.75, row2 4+8.75, row3 36+8.75. From 2: row1 12.75, row0 16, row3 16.
        let nn = p.nearest_neighbours(2);
        assert_eq!(nn[0], [1, 2]);
        assert_eq!(nn[1], [0, 2]);
        assert_eq!(nn[2], [1, 0]);
        assert_eq!(nn[3], [2, 1]); // 16 (row 2) < 36 + 8.75 (row 1) < 64 (row 0)
        // Asking for more neighbours than there are other rows gives all of them.
        assert_eq!(p.nearest_neighbours(10)[0].len(), 3);
    }

    #[test]
    fn missing_numbers_count_as_the_median() {
        // The median of 0, 2, 10 is 2: the missing row sits on row 1.
        let x = vec![Some(0.0), Some(2.0), Some(10.0), None];
        let p = Points::new(&[x], &[]);
        assert_eq!(p.distance(1, 3), 0.0);
        assert_eq!(p.nearest_neighbours(1)[3], [1]);
    }

    #[test]
    fn categories_alone_count_differences() {
        let p = Points::new(&[], &[vec![0, 0, 1], vec![2, 3, 3]]);
        assert_eq!(p.distance(0, 1), 1.0);
        assert_eq!(p.distance(0, 2), 2.0);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn majority_vote_and_ties() {
        let codes = [7, 3, 3, 7, 3];
        // neighbours 0, 1, 2 hold 7, 3, 3: the first holding 3 is position 1
        assert_eq!(majority(&[0, 1, 2], |n| codes[n]), 1);
        // a tie between 7 (positions 0, 3) and 3 (1, 2): the nearest, 7
        assert_eq!(majority(&[0, 1, 2, 3], |n| codes[n]), 0);
    }

    #[test]
    fn interpolation_and_missing_values() {
        assert_eq!(interpolate(Some(10.0), Some(20.0), 0.25), Some(12.5));
        assert_eq!(interpolate(Some(10.0), None, 0.25), Some(10.0));
        assert_eq!(interpolate(None, Some(20.0), 0.25), None);
    }

    /// Fraud rows of a small table: amounts interpolated and rounded, dates between the
    /// rows', categories voted, keys missing, types kept.
    #[test]
    fn oversampled_rows_stay_within_the_class() {
        use synth_core::DType;
        let df = df!(
            "id" => [10i64, 11, 12, 13, 14, 15],
            "amount" => [10.25f64, 99.0, 20.5, 30.75, 1.0, 40.0],
            "day" => ["2024-01-01", "2024-06-01", "2024-01-03", "2024-01-05", "2024-03-01", "2024-01-09"],
            "channel" => ["web", "shop", "web", "web", "shop", "app"],
            "fraud" => [1i64, 0, 1, 1, 0, 1],
        )
        .unwrap();
        let col = |name: &str, kind, dtype| ColumnMeta::new(name, kind, dtype);
        let meta = TableMeta {
            columns: vec![
                col("id", ColumnKind::Key, DType::I64),
                ColumnMeta {
                    decimals: Some(2),
                    ..col("amount", ColumnKind::Continuous, DType::F64)
                },
                ColumnMeta {
                    format: Some("%Y-%m-%d".into()),
                    ..col("day", ColumnKind::Continuous, DType::Date)
                },
                col("channel", ColumnKind::Discrete, DType::Str),
                col("fraud", ColumnKind::Discrete, DType::I64),
            ],
        };
        let class = [0, 2, 3, 5];
        let out = oversample(&df, &meta, &class, 50, 2, 1).unwrap();
        assert_eq!(out.height(), 50);
        assert_eq!(out, oversample(&df, &meta, &class, 50, 2, 1).unwrap());
        assert_eq!(out.column("id").unwrap().null_count(), 50);
        let fraud: Vec<Option<i64>> = out.column("fraud").unwrap().i64().unwrap().iter().collect();
        assert!(fraud.iter().all(|&f| f == Some(1)));
        let amounts = out.column("amount").unwrap().f64().unwrap();
        for a in amounts.iter().flatten() {
            assert!((10.25..=40.0).contains(&a), "{a}");
            assert_eq!(a, round_to(a, 2));
        }
        let days = out.column("day").unwrap().str().unwrap();
        for d in days.iter().flatten() {
            assert!(("2024-01-01"..="2024-01-09").contains(&d), "{d}");
        }
        // "web" holds three of the four rows: with k = 2 every row's neighbours are mostly
        // web or tie to the nearest; "shop" rows are not in the class and never appear
        let channels = out.column("channel").unwrap().str().unwrap();
        assert!(
            channels
                .iter()
                .all(|c| c == Some("web") || c == Some("app"))
        );
        let err = oversample(&df, &meta, &[0], 5, 2, 1).unwrap_err();
        assert!(err.to_string().contains("at least 2 rows"), "{err}");
    }

    #[test]
    fn new_rows_are_seeded_and_use_listed_neighbours() {
        let nn = vec![vec![1], vec![2], vec![0]];
        let a = draw_new_rows(&nn, 200, 3);
        assert_eq!(a, draw_new_rows(&nn, 200, 3));
        assert_ne!(a, draw_new_rows(&nn, 200, 4));
        assert!(a.iter().all(|r| r.neighbour == (r.base + 1) % 3));
        assert!(a.iter().all(|r| (0.0..1.0).contains(&r.gap)));
        // every base is drawn
        assert!((0..3).all(|b| a.iter().any(|r| r.base == b)));
    }
}
