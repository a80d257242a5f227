//! CTGAN's conditional vector and training-by-sampling (spec section 2).
//!
//! For each discrete span (discrete columns and null indicators) the row indices of every
//! category are precomputed once; a training condition picks a span uniformly, a category in
//! proportion to log(1 + count) (or count), and real rows are drawn among the rows with that
//! category.

use crate::transform::{ConditionSpan, EncodedTable};
use crate::{Result, TabularError};
use rand::RngExt;
use synth_core::seed::SeededRng;

/// A batch of conditions: one-hot condition vectors, the chosen span mask, and the choices.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    /// Row-major `batch x cond_width` one-hot condition vectors.
    pub vectors: Vec<f32>,
    /// Chosen span per row.
    pub span: Vec<usize>,
    /// Chosen category (within the span) per row.
    pub category: Vec<usize>,
}

/// Precomputed category statistics of the training table.
#[derive(Debug, Clone)]
pub struct ConditionalSampler {
    spans: Vec<ConditionSpan>,
    /// Offset of each span in the condition vector.
    cond_offsets: Vec<usize>,
    cond_width: usize,
    /// Row indices per span and category (empty until [`ConditionalSampler::with_rows`]).
    rows: Vec<Vec<Vec<u32>>>,
    /// Cumulative training probabilities per span (log or raw frequency).
    train_cdf: Vec<Vec<f64>>,
    /// Cumulative empirical frequencies per span.
    empirical_cdf: Vec<Vec<f64>>,
    n_rows: usize,
}

impl ConditionalSampler {
    /// A sampler from the spans' training counts (enough for generating rows).
    pub fn new(spans: Vec<ConditionSpan>, log_frequency: bool) -> Self {
        let mut cond_offsets = Vec::with_capacity(spans.len());
        let mut cond_width = 0;
        for span in &spans {
            cond_offsets.push(cond_width);
            cond_width += span.labels.len();
        }
        let counts =
            |span: &ConditionSpan| span.counts.iter().map(|&c| c as f64).collect::<Vec<_>>();
        let train_cdf = spans
            .iter()
            .map(|s| {
                cumulative(
                    &counts(s)
                        .iter()
                        .map(|&c| if log_frequency { (1.0 + c).ln() } else { c })
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let empirical_cdf = spans.iter().map(|s| cumulative(&counts(s))).collect();
        ConditionalSampler {
            spans,
            cond_offsets,
            cond_width,
            rows: Vec::new(),
            train_cdf,
            empirical_cdf,
            n_rows: 0,
        }
    }

    /// Indexes the rows of the encoded training table by span and category, for
    /// training-by-sampling.
    pub fn with_rows(mut self, table: &EncodedTable) -> Self {
        self.rows = self
            .spans
            .iter()
            .map(|span| {
                let width = span.labels.len();
                let mut by_category = vec![Vec::new(); width];
                for r in 0..table.rows {
                    let one_hot = &table.data[r * table.width + span.data_offset..][..width];
                    if let Some(c) = one_hot.iter().position(|v| *v > 0.5) {
                        by_category[c].push(r as u32);
                    }
                }
                by_category
            })
            .collect();
        self.n_rows = table.rows;
        self
    }

    /// Width of a condition vector (0 without discrete spans).
    pub fn cond_width(&self) -> usize {
        self.cond_width
    }

    /// The spans, in condition-vector order.
    pub fn spans(&self) -> &[ConditionSpan] {
        &self.spans
    }

    /// Training conditions: span uniformly, category by (log) frequency. `None` without spans.
    pub fn sample_train(&self, batch: usize, rng: &mut SeededRng) -> Option<Conditions> {
        self.sample_with(batch, rng, &self.train_cdf)
    }

    /// Conditions for unconditional sampling: span uniformly, category by its empirical
    /// frequency. `None` without spans.
    pub fn sample_empirical(&self, batch: usize, rng: &mut SeededRng) -> Option<Conditions> {
        self.sample_with(batch, rng, &self.empirical_cdf)
    }

    fn sample_with(
        &self,
        batch: usize,
        rng: &mut SeededRng,
        cdfs: &[Vec<f64>],
    ) -> Option<Conditions> {
        if self.spans.is_empty() {
            return None;
        }
        let mut c = Conditions {
            vectors: vec![0.0; batch * self.cond_width],
            span: Vec::with_capacity(batch),
            category: Vec::with_capacity(batch),
        };
        for b in 0..batch {
            let s = rng.random_range(0..self.spans.len());
            let cat = draw_cdf(&cdfs[s], rng);
            c.vectors[b * self.cond_width + self.cond_offsets[s] + cat] = 1.0;
            c.span.push(s);
            c.category.push(cat);
        }
        Some(c)
    }

    /// One training row index per (span, category) pair, uniformly among the matching rows.
    /// Training conditions only pick categories with rows, since their weight is positive.
    pub fn sample_rows(&self, span: &[usize], category: &[usize], rng: &mut SeededRng) -> Vec<u32> {
        span.iter()
            .zip(category)
            .map(|(&s, &c)| {
                let rows = &self.rows[s][c];
                rows[rng.random_range(0..rows.len())]
            })
            .collect()
    }

    /// The position of each row's 1 in its condition vector.
    pub fn one_hot_positions(&self, conditions: &Conditions) -> Vec<u32> {
        conditions
            .span
            .iter()
            .zip(&conditions.category)
            .map(|(&s, &c)| (self.cond_offsets[s] + c) as u32)
            .collect()
    }

    /// `n` row indices drawn uniformly from the whole table.
    pub fn sample_uniform_rows(&self, n: usize, rng: &mut SeededRng) -> Vec<u32> {
        (0..n)
            .map(|_| rng.random_range(0..self.n_rows) as u32)
            .collect()
    }

    /// The condition for `column = value` requirements; errors name unknown columns and
    /// list the known values of a column when the value is unknown.
    pub fn fixed_condition(&self, pairs: &[(String, String)]) -> Result<FixedCondition> {
        let mut fixed = FixedCondition {
            vector: vec![0.0; self.cond_width],
            required: Vec::new(),
        };
        for (k, (column, value)) in pairs.iter().enumerate() {
            if let Some((_, other)) = pairs[..k].iter().find(|(c, v)| c == column && v != value) {
                return Err(TabularError::ContradictoryConditions {
                    column: column.clone(),
                    first: other.clone(),
                    second: value.clone(),
                });
            }
            if pairs[..k].contains(&(column.clone(), value.clone())) {
                continue;
            }
            let s = self
                .spans
                .iter()
                .position(|s| &s.column == column)
                .ok_or_else(|| TabularError::UnknownConditionColumn {
                    column: column.clone(),
                    available: self
                        .spans
                        .iter()
                        .map(|s| s.column.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            let span = &self.spans[s];
            let c = span.labels.iter().position(|l| l == value).ok_or_else(|| {
                TabularError::UnknownConditionValue {
                    column: column.clone(),
                    value: value.clone(),
                    available: span.labels.join(", "),
                }
            })?;
            fixed.vector[self.cond_offsets[s] + c] = 1.0;
            fixed
                .required
                .push((span.data_offset, span.labels.len(), c));
        }
        Ok(fixed)
    }
}

/// A user's condition: its condition vector and the one-hot spans it constrains.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedCondition {
    /// The condition vector (one 1 per constrained column).
    pub vector: Vec<f32>,
    /// (data offset, span width, required category) per constrained column.
    pub required: Vec<(usize, usize, usize)>,
}

impl FixedCondition {
    /// Whether an encoded (activated) row decodes to the required categories.
    pub fn is_satisfied_by(&self, row: &[f32]) -> bool {
        self.required
            .iter()
            .all(|&(offset, width, c)| crate::transform::argmax(&row[offset..offset + width]) == c)
    }
}

fn cumulative(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect()
}

fn draw_cdf(cdf: &[f64], rng: &mut SeededRng) -> usize {
    let u = rng.random::<f64>();
    cdf.iter().position(|&c| u < c).unwrap_or(cdf.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use synth_core::seed::seeded_rng;

    /// Two discrete columns: `a` with counts 90/9/1 and `b` with counts 50/50.
    fn table() -> (EncodedTable, Vec<ConditionSpan>) {
        let mut data = Vec::new();
        for r in 0..100 {
            let a = if r < 90 {
                0
            } else if r < 99 {
                1
            } else {
                2
            };
            let mut row = vec![0.5f32, 0.0, 0.0, 0.0, 0.0, 0.0];
            row[1 + a] = 1.0;
            row[4 + r % 2] = 1.0;
            data.extend(row);
        }
        let spans = vec![
            ConditionSpan {
                column: "a".into(),
                data_offset: 1,
                labels: vec!["x".into(), "y".into(), "z".into()],
                counts: vec![90, 9, 1],
            },
            ConditionSpan {
                column: "b".into(),
                data_offset: 4,
                labels: vec!["p".into(), "q".into()],
                counts: vec![50, 50],
            },
        ];
        (
            EncodedTable {
                data,
                rows: 100,
                width: 6,
            },
            spans,
        )
    }

    fn frequencies(s: &ConditionalSampler, c: &Conditions, span: usize) -> Vec<f64> {
        let n = c.span.iter().filter(|&&x| x == span).count() as f64;
        (0..s.spans[span].labels.len())
            .map(|k| {
                c.span
                    .iter()
                    .zip(&c.category)
                    .filter(|&(&x, &y)| x == span && y == k)
                    .count() as f64
                    / n
            })
            .collect()
    }

    #[test]
    fn training_conditions_follow_log_frequency() {
        let (t, spans) = table();
        let s = ConditionalSampler::new(spans, true).with_rows(&t);
        let mut rng = seeded_rng(0);
        let c = s.sample_train(200_000, &mut rng).unwrap();
        let share_a = c.span.iter().filter(|&&x| x == 0).count() as f64 / 200_000.0;
        assert!(
            (share_a - 0.5).abs() < 0.01,
            "spans are chosen uniformly: {share_a}"
        );
        let logs = [91f64.ln(), 10f64.ln(), 2f64.ln()];
        let total: f64 = logs.iter().sum();
        for (f, l) in frequencies(&s, &c, 0).iter().zip(logs) {
            assert!((f - l / total).abs() < 0.01, "{f} vs {}", l / total);
        }
        // each row's vector has one 1, at the offset of its span and category
        for b in 0..100 {
            let v = &c.vectors[b * 5..(b + 1) * 5];
            assert_eq!(v.iter().sum::<f32>(), 1.0);
            assert_eq!(v[s.cond_offsets[c.span[b]] + c.category[b]], 1.0);
        }
    }

    #[test]
    fn raw_and_empirical_frequencies() {
        let (t, spans) = table();
        let s = ConditionalSampler::new(spans, false).with_rows(&t);
        let mut rng = seeded_rng(1);
        for c in [
            s.sample_train(200_000, &mut rng).unwrap(),
            s.sample_empirical(200_000, &mut rng).unwrap(),
        ] {
            let f = frequencies(&s, &c, 0);
            assert!(
                (f[0] - 0.90).abs() < 0.01 && (f[1] - 0.09).abs() < 0.01,
                "{f:?}"
            );
        }
    }

    #[test]
    fn rows_match_their_condition() {
        let (t, spans) = table();
        let s = ConditionalSampler::new(spans, true).with_rows(&t);
        let mut rng = seeded_rng(2);
        let c = s.sample_train(1000, &mut rng).unwrap();
        let rows = s.sample_rows(&c.span, &c.category, &mut rng);
        for ((&r, &span), &cat) in rows.iter().zip(&c.span).zip(&c.category) {
            let offset = s.spans[span].data_offset;
            assert_eq!(t.data[r as usize * t.width + offset + cat], 1.0);
        }
        // the rare category (one row) is drawn, and always as that row
        let rare = s.sample_rows(&[0; 10], &[2; 10], &mut rng);
        assert_eq!(rare, [99; 10]);
    }

    #[test]
    fn fixed_conditions_use_the_right_offsets() {
        let (t, spans) = table();
        let s = ConditionalSampler::new(spans, true).with_rows(&t);
        let fixed = s.fixed_condition(&[("b".into(), "q".into())]).unwrap();
        assert_eq!(fixed.vector, [0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(fixed.required, [(4, 2, 1)]);
        assert!(fixed.is_satisfied_by(&[0.3, 0.1, 0.1, 0.8, 0.2, 0.7]));
        assert!(!fixed.is_satisfied_by(&[0.3, 0.1, 0.1, 0.8, 0.6, 0.4]));
        let err = s
            .fixed_condition(&[("c".into(), "q".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`c`") && err.contains("a, b"), "{err}");
        let err = s
            .fixed_condition(&[("a".into(), "w".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`w`") && err.contains("x, y, z"), "{err}");
    }

    #[test]
    fn no_discrete_spans_means_no_conditions() {
        let t = EncodedTable {
            data: vec![0.1, 1.0, 0.2, 1.0],
            rows: 2,
            width: 2,
        };
        let s = ConditionalSampler::new(Vec::new(), true).with_rows(&t);
        let mut rng = seeded_rng(0);
        assert!(s.sample_train(4, &mut rng).is_none());
        assert_eq!(s.cond_width(), 0);
        assert!(s.sample_uniform_rows(50, &mut rng).iter().all(|&r| r < 2));
    }
}
