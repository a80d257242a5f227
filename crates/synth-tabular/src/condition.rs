//! `column=value` conditions read against the modelled columns, for the models that sample
//! column values directly (GaussianCopula, TabularARGN): what each condition fixes, with
//! errors that name unknown columns and list the values a column can take.

use crate::transform::ModelledColumn;
use crate::{Result, TabularError};
use synth_data::display_format;
use synth_data::temporal::parse_text;

/// What a condition fixes in one modelled column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fixed {
    /// A continuous column at a value (dates and times as days or seconds).
    Value(f64),
    /// A continuous column present (`true`) or missing.
    Presence(bool),
    /// A continuous column's value within `[low, high]` (written `low..high`; an empty end
    /// is the column's training minimum or maximum).
    Range(f64, f64),
    /// A discrete column's category (an index into its categories).
    Category(usize),
}

/// The conditions `pairs` as (modelled column index, what it fixes), in the order given.
/// `missing_share(j)` is continuous column `j`'s share of missing values: `present` and
/// `missing` are refused where the column was always (or never) missing. Unknown columns and
/// values, values outside a column's range and two different values for one column are errors.
pub fn parse_conditions(
    columns: &[ModelledColumn],
    pairs: &[(String, String)],
    missing_share: impl Fn(usize) -> f64,
) -> Result<Vec<(usize, Fixed)>> {
    let mut fixed: Vec<(usize, Fixed)> = Vec::new();
    for (name, value) in pairs {
        let Some(j) = columns.iter().position(|(m, _)| &m.name == name) else {
            return Err(TabularError::UnknownConditionColumn {
                column: name.clone(),
                available: columns
                    .iter()
                    .map(|(m, _)| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let (meta, categories) = &columns[j];
        let unknown = |available: String| TabularError::UnknownConditionValue {
            column: name.clone(),
            value: value.clone(),
            available,
        };
        let bounds = || {
            format!(
                "values from {} to {}",
                meta.min.map_or("-".into(), |v| v.to_string()),
                meta.max.map_or("-".into(), |v| v.to_string()),
            )
        };
        let what = match categories {
            Some((labels, _)) => Fixed::Category(
                labels
                    .iter()
                    .position(|l| l == value)
                    .ok_or_else(|| unknown(labels.join(", ")))?,
            ),
            None if value == "present" || value == "missing" => {
                let missing = missing_share(j);
                let present = value == "present";
                // a column that never (or always) missed a value cannot be asked to
                if (present && missing >= 1.0) || (!present && missing <= 0.0) {
                    return Err(unknown(format!(
                        "{}{}",
                        bounds(),
                        if missing > 0.0 {
                            ", `present`, `missing`"
                        } else {
                            ""
                        }
                    )));
                }
                Fixed::Presence(present)
            }
            None => {
                let number = |text: &str| {
                    if meta.dtype.is_temporal() {
                        parse_text(text, display_format(meta), meta.dtype)
                    } else {
                        text.trim().parse::<f64>().ok().filter(|x| x.is_finite())
                    }
                };
                let range = format!(
                    "`present`, `missing`, a value or a range `low..high` of {}",
                    bounds()
                );
                let (min, max) = (meta.min.unwrap_or(f64::MIN), meta.max.unwrap_or(f64::MAX));
                if let Some((low, high)) = value.split_once("..") {
                    let end = |text: &str, open: f64| {
                        if text.trim().is_empty() {
                            Some(open)
                        } else {
                            number(text)
                        }
                    };
                    let (low, high) = end(low, min)
                        .zip(end(high, max))
                        .filter(|(low, high)| low <= high && *low <= max && *high >= min)
                        .ok_or_else(|| unknown(range.clone()))?;
                    Fixed::Range(low.max(min), high.min(max))
                } else {
                    let x = number(value).ok_or_else(|| unknown(range.clone()))?;
                    if !(min..=max).contains(&x) {
                        return Err(unknown(range));
                    }
                    Fixed::Value(x)
                }
            }
        };
        if let Some((_, earlier)) = fixed.iter().find(|(k, _)| *k == j)
            && *earlier != what
        {
            return Err(TabularError::ContradictoryConditions {
                column: name.clone(),
                first: format!("{earlier:?}"),
                second: value.clone(),
            });
        }
        fixed.push((j, what));
    }
    Ok(fixed)
}
