//! Key columns (identifiers, unique per row): the shape of their values, learned from the
//! data, and fresh unique values of that shape for synthetic rows.

use crate::polars_dtype;
use polars::prelude::*;
use synth_core::{ColumnMeta, DType, KeyShape};

/// A key needs at least this many values: fewer unique values say little about a column.
pub const MIN_KEY_ROWS: usize = 20;

/// The first zero-based row holding a value already seen, with that earlier row and the
/// value as text; `None` when the non-null values are unique.
pub fn first_repeat(column: &Column) -> PolarsResult<Option<(usize, usize, String)>> {
    let text = column.cast(&DataType::String)?;
    let mut seen = std::collections::HashMap::new();
    for (row, value) in text.str()?.iter().enumerate() {
        if let Some(value) = value
            && let Some(first) = seen.insert(value, row)
        {
            return Ok(Some((first, row, value.to_string())));
        }
    }
    Ok(None)
}

/// The shape of a key column's values: integers continue from the smallest at their stride
/// (the greatest common divisor of the gaps between sorted values), or fall from the largest
/// when they fall row after row in the data (three values or more); text keeps the prefix every value shares (up to
/// its trailing digits) and, when the rest is digits, their width and smallest number.
pub fn key_shape(column: &Column, dtype: DType) -> PolarsResult<KeyShape> {
    if dtype.is_integer() {
        let values = column.cast(&DataType::Int64)?;
        let in_order: Vec<i64> = values.i64()?.iter().flatten().collect();
        let falling = in_order.len() > 2 && in_order.windows(2).all(|w| w[1] < w[0]);
        let step = integer_stride(&in_order);
        return Ok(if falling {
            KeyShape::Integer {
                start: in_order[0],
                step: -step,
            }
        } else {
            KeyShape::Integer {
                start: in_order.iter().copied().min().unwrap_or(0),
                step,
            }
        });
    }
    let text = column.cast(&DataType::String)?;
    let values: Vec<&str> = text.str()?.iter().flatten().collect();
    let prefix = values
        .iter()
        .skip(1)
        .fold(values.first().copied().unwrap_or(""), |p, v| {
            let common = p
                .char_indices()
                .zip(v.chars())
                .find(|((_, a), b)| a != b)
                .map_or(p.len().min(v.len()), |((i, _), _)| i);
            &p[..common.min(v.len())]
        });
    // digits the values share (the zeros of "TX00100", "TX00299") belong to the number
    let prefix = prefix.trim_end_matches(|c: char| c.is_ascii_digit());
    let suffixes: Vec<&str> = values.iter().map(|v| &v[prefix.len()..]).collect();
    let numbers: Option<Vec<u64>> = suffixes
        .iter()
        .map(|s| {
            (!s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        })
        .collect();
    let widest = suffixes
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0);
    Ok(match numbers {
        Some(numbers) => {
            let same_width = suffixes.iter().all(|s| s.len() == widest);
            KeyShape::Text {
                prefix: prefix.to_string(),
                digits: if same_width { widest } else { 0 },
                start: numbers.into_iter().min().unwrap_or(0),
            }
        }
        None => KeyShape::Text {
            prefix: prefix.to_string(),
            digits: widest,
            start: 0,
        },
    })
}

/// The stride of unique integers: the greatest common divisor of the gaps between them when
/// sorted (1 for fewer than two values).
pub fn integer_stride(values: &[i64]) -> i64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let stride = sorted.windows(2).map(|w| w[1].abs_diff(w[0])).fold(0, gcd);
    i64::try_from(stride).unwrap_or(1).max(1)
}

/// Whether output row `row` of a key column is missing: a low-discrepancy sequence, so that
/// any run of rows holds missing values at `share` (to within one row) without a random
/// stream.
fn is_missing(row: u64, share: f64) -> bool {
    const GOLDEN: f64 = 0.618_033_988_749_894_9;
    ((row + 1) as f64 * GOLDEN).fract() < share
}

/// Values of the key column `meta` for output rows `first_row..first_row + rows`: unique over
/// the whole output, missing at the column's share.
pub fn key_column(meta: &ColumnMeta, first_row: u64, rows: usize) -> PolarsResult<Series> {
    let name = meta.name.as_str().into();
    let rows = first_row..first_row + rows as u64;
    match &meta.key {
        Some(KeyShape::Integer { start, step }) => {
            let fits = i64::try_from(rows.end)
                .ok()
                .and_then(|end| end.checked_mul(*step))
                .and_then(|span| start.checked_add(span));
            if fits.is_none() {
                polars_bail!(ComputeError: "key column `{}`: the sequence from {start} by {step} runs past 2^63; sample fewer rows", meta.name);
            }
            let values: Vec<Option<i64>> = rows
                .map(|r| (!is_missing(r, meta.missing)).then(|| start + r as i64 * step))
                .collect();
            Series::new(name, values)
                .strict_cast(&polars_dtype(meta.dtype))
                .map_err(|_| {
                    polars_err!(ComputeError: "key column `{}`: the sequence from {start} does not fit its type {:?}; sample fewer rows", meta.name, meta.dtype)
                })
        }
        Some(KeyShape::Text {
            prefix,
            digits,
            start,
        }) => {
            if start.checked_add(rows.end).is_none() {
                polars_bail!(ComputeError: "key column `{}`: numbers from {start} run past 2^64; sample fewer rows", meta.name);
            }
            let values: Vec<Option<String>> = rows
                .map(|r| {
                    (!is_missing(r, meta.missing))
                        .then(|| format!("{prefix}{:0digits$}", start + r))
                })
                .collect();
            Ok(Series::new(name, values))
        }
        None => polars_bail!(ComputeError: "key column `{}` has no key shape", meta.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synth_core::ColumnKind;

    fn shape_of(values: &[&str]) -> KeyShape {
        key_shape(&Column::new("id".into(), values), DType::Str).unwrap()
    }

    #[test]
    fn shapes_of_text_keys() {
        assert_eq!(
            shape_of(&["TX-0042", "TX-0007", "TX-1000"]),
            KeyShape::Text {
                prefix: "TX-".into(),
                digits: 4,
                start: 7
            }
        );
        assert_eq!(
            shape_of(&["TX00100", "TX00299", "TX00150"]),
            KeyShape::Text {
                prefix: "TX".into(),
                digits: 5,
                start: 100
            }
        );
        assert_eq!(
            shape_of(&["u9", "u10", "u11"]),
            KeyShape::Text {
                prefix: "u".into(),
                digits: 0,
                start: 9
            }
        );
        assert_eq!(
            shape_of(&["alice", "albert", "alfred"]),
            KeyShape::Text {
                prefix: "al".into(),
                digits: 4,
                start: 0
            }
        );
        let ints = Column::new("id".into(), [Some(30i32), None, Some(12)]);
        assert_eq!(
            key_shape(&ints, DType::I32).unwrap(),
            KeyShape::Integer {
                start: 12,
                step: 18
            }
        );
        // ids issued by several servers, ten apart, some rows deleted: the stride is kept
        let ints = Column::new("id".into(), [1003i64, 1013, 1043, 1023, 1093]);
        assert_eq!(
            key_shape(&ints, DType::I64).unwrap(),
            KeyShape::Integer {
                start: 1003,
                step: 10
            }
        );
        // ids that fall row after row fall in the output too
        let ints = Column::new("id".into(), [500i64, 400, 300, 100]);
        assert_eq!(
            key_shape(&ints, DType::I64).unwrap(),
            KeyShape::Integer {
                start: 500,
                step: -100
            }
        );
        assert_eq!(integer_stride(&[7]), 1);
        assert_eq!(integer_stride(&[-6, 6, 0]), 6);
    }

    #[test]
    fn regenerated_keys_continue_across_chunks_and_keep_their_missing_share() {
        let meta = ColumnMeta {
            key: Some(KeyShape::Text {
                prefix: "TX-".into(),
                digits: 4,
                start: 7,
            }),
            missing: 0.25,
            ..ColumnMeta::new("id", ColumnKind::Key, DType::Str)
        };
        let mut all = key_column(&meta, 0, 600).unwrap();
        all.append(&key_column(&meta, 600, 400).unwrap()).unwrap();
        let missing = all.null_count();
        assert!((240..=260).contains(&missing), "{missing} of 1000 missing");
        let present: Vec<&str> = all.str().unwrap().iter().flatten().collect();
        let unique: std::collections::HashSet<&&str> = present.iter().collect();
        assert_eq!(unique.len(), present.len());
        assert!(present.iter().all(|v| v.starts_with("TX-") && v.len() == 7));
        let top = i64::from(i32::MAX) - 5;
        let ints = ColumnMeta {
            key: Some(KeyShape::Integer {
                start: top,
                step: 1,
            }),
            ..ColumnMeta::new("n", ColumnKind::Key, DType::I32)
        };
        let values = key_column(&ints, 0, 6).unwrap();
        assert_eq!(values.dtype(), &DataType::Int32);
        assert_eq!(values.i32().unwrap().get(5), Some(i32::MAX));
        let err = key_column(&ints, 0, 7).unwrap_err().to_string();
        assert!(err.contains("`n`") && err.contains("does not fit"), "{err}");
        let last = ColumnMeta {
            key: Some(KeyShape::Text {
                prefix: "K".into(),
                digits: 0,
                start: u64::MAX - 3,
            }),
            ..ColumnMeta::new("k", ColumnKind::Key, DType::Str)
        };
        assert_eq!(
            key_column(&last, 0, 3).unwrap().str().unwrap().get(2),
            Some("K18446744073709551614")
        );
        let err = key_column(&last, 2, 3).unwrap_err().to_string();
        assert!(err.contains("`k`") && err.contains("2^64"), "{err}");
        let top = ColumnMeta {
            key: Some(KeyShape::Integer {
                start: i64::MAX - 1,
                step: 1,
            }),
            ..ColumnMeta::new("t", ColumnKind::Key, DType::I64)
        };
        let err = key_column(&top, 0, 2).unwrap_err().to_string();
        assert!(err.contains("`t`") && err.contains("2^63"), "{err}");
        let strided = ColumnMeta {
            key: Some(KeyShape::Integer {
                start: 500,
                step: -100,
            }),
            ..ColumnMeta::new("s", ColumnKind::Key, DType::I64)
        };
        let values = key_column(&strided, 2, 3).unwrap();
        assert_eq!(
            values
                .i64()
                .unwrap()
                .into_no_null_iter()
                .collect::<Vec<_>>(),
            [300, 200, 100]
        );
    }

    #[test]
    fn repeats_are_found() {
        let column = Column::new("id".into(), [Some("a"), None, Some("b"), None, Some("a")]);
        assert_eq!(first_repeat(&column).unwrap(), Some((0, 4, "a".into())));
        let column = Column::new("id".into(), [Some(1i64), None, Some(2), None]);
        assert_eq!(first_repeat(&column).unwrap(), None);
    }
}
